//! The `lite2pg` binary: parse arguments, call the library, exit with a meaningful code.

mod cli;

fn main() {
    let result = match cli::parse() {
        cli::Request::Plan(req) => lite2pg::commands::plan(&req),
        cli::Request::Migrate(req) => lite2pg::migrate::migrate(&req),
        cli::Request::Verify(req) => lite2pg::verify::verify(&req),
        cli::Request::Demo(req) => lite2pg::commands::demo(&req),
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
