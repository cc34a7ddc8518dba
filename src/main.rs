//! The `lite2pg` binary: parse arguments, call the library, exit with a meaningful code.

mod cli;

fn main() {
    let result = match cli::parse() {
        cli::Request::Plan(req) => lite2pg::translate::plan(&req),
        cli::Request::Migrate(req) => lite2pg::migrate::migrate(&req),
        cli::Request::Verify(req) => lite2pg::verify::verify(&req),
        cli::Request::Demo(req) => lite2pg::demo::demo(&req),
        cli::Request::Sync(req) => lite2pg::capture::sync::sync(&req),
        cli::Request::Status(req) => lite2pg::capture::status::status(&req),
        cli::Request::Cutover(req) => lite2pg::capture::cutover::cutover(&req),
        cli::Request::Rollback(req) => lite2pg::capture::rollback::rollback(&req),
        cli::Request::RollbackRun(target, run) => lite2pg::migrate::rollback_run(&target, &run),
        cli::Request::Finish(req) => lite2pg::capture::finish::finish(&req),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lite2pg: error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
