//! Exit codes by error class (DESIGN.md rule 7, `src/error/sqlstate.rs`): a server error
//! about the data exits 1, one about an object exits 2, and 3 is kept for the connection
//! and the environment. Each error names the object it concerns. (The first case the issue
//! named, a deferred foreign key violated under `--data-only`, no longer errs at all: the
//! keys are held for the load; tests/data_only.rs shows it.)
//!
//! The environment class has its own tests in tests/environment.rs (privileges, a
//! read-only target, a full disk), the lost connection in tests/faults.rs, and an unusable
//! SQLite file in tests/cli_bad_input.rs.

mod common;

use common::{run_bin, sqlite, TestDb};

#[test]
fn a_row_the_target_refuses_while_syncing_exits_1_naming_the_constraint() {
    // A constraint the application's schema holds and the SQLite row breaks: the applier's
    // INSERT fails with 23514, which used to exit 3 as if the server had gone away.
    let f =
        sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 5);");
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    let (code, out, err) = run_bin(&["sync", path, "--to", &db.url, "--once", "--quiet"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    db.client()
        .batch_execute(
            "a constraint of the application's",
            "ALTER TABLE t ADD CONSTRAINT v_small CHECK (v < 10) NOT VALID",
        )
        .unwrap();
    rusqlite::Connection::open(&f.path)
        .unwrap()
        .execute("INSERT INTO t VALUES (2, 50)", [])
        .unwrap();
    let (code, out, err) = run_bin(&["sync", path, "--to", &db.url, "--once", "--quiet"], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("SQLSTATE 23514"), "{err}");
    assert!(err.contains("constraint \"v_small\""), "{err}");
}

#[test]
fn a_table_dropped_under_a_running_migration_exits_2_naming_it() {
    // The step after the copy meets a relation that is gone (42P01): an object error, not
    // a lost connection.
    let f = sqlite(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');
         CREATE TABLE gone (id INTEGER PRIMARY KEY); INSERT INTO gone VALUES (5);",
    );
    let db = TestDb::new();
    let path = f.path.to_str().unwrap().to_string();
    let url = db.url.clone();
    let run = std::thread::spawn(move || {
        run_bin(
            &["migrate", &path, "--to", &url, "--quiet"],
            &[("LITE2PG_FAILPOINT", "phase.verify=sleep:1500")],
        )
    });
    // Drop the table once its key is built (after its rows are in), while the run sleeps
    // before verifying.
    let client = db.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let rows = client
            .query(
                "waiting for the copy",
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                 WHERE c.relname = 'gone'",
                &[],
            )
            .map(|r| r[0].get::<_, i64>(0))
            .unwrap_or(0);
        if rows > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    client
        .batch_execute("dropping the table", "DROP TABLE public.gone")
        .unwrap();
    let (code, out, err) = run.join().unwrap();
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("SQLSTATE 42P01"), "{err}");
    assert!(err.contains("gone"), "{err}");
}

#[test]
fn an_unreachable_server_exits_3_from_every_command() {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY);");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://nobody@127.0.0.1:{port}/x?connect_timeout=2");
    // Every command that talks to the server: a connection-class failure is exit 3, never
    // the 2 of a usage error.
    for command in [
        "migrate", "plan", "verify", "sync", "status", "cutover", "rollback", "finish",
    ] {
        let (code, out, err) = run_bin(&[command, f.path.to_str().unwrap(), "--to", &url], &[]);
        assert_eq!(code, 3, "{command}\n{out}\n{err}");
    }
}

/// Runs `args` with the failpoint `point` sleeping, ends every other session of the
/// database while it sleeps (as a server restart or a failover does), and returns the exit
/// code and output.
fn cut_off_at(db: &TestDb, point: &str, args: &[&str]) -> (i32, String) {
    use std::io::{BufRead, BufReader};
    let failpoint = format!("{point}=sleep:3000");
    let mut child = common::bin_command(
        args,
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LITE2PG_FAILPOINT", failpoint.as_str()),
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut said = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        said.push_str(&line);
        if line.contains(&format!("failpoint {point} reached")) {
            db.strings(
                "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            );
            break;
        }
        line.clear();
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}\n{said}{rest}", String::from_utf8_lossy(&out.stdout));
    assert!(
        said.contains("reached"),
        "{} never reached {point}:\n{text}",
        args[0]
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_connection_lost_in_the_middle_of_any_command_exits_3() {
    let f = sqlite(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO t VALUES (1, 'a');",
    );
    let db = TestDb::new();
    let file = f.path.to_str().unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    rusqlite::Connection::open(&f.path)
        .unwrap()
        .execute("INSERT INTO t VALUES (2, 'b')", [])
        .unwrap();
    for (point, args) in [
        ("sync.before_commit", vec!["sync", file, "--once"]),
        ("status.connected", vec!["status", file]),
        ("verify.compare", vec!["verify", file]),
        ("cutover.armed", vec!["cutover", file]),
    ] {
        let (code, out) = cut_off_at(&db, point, &args);
        assert_eq!(code, 3, "{point}: {out}");
    }
    // The change the cut-off sync held is applied by the next; then the switches.
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_bin(&["cutover", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out) = cut_off_at(&db, "rollback.drained", &["rollback", file]);
    assert_eq!(code, 3, "{out}");
    let (code, out) = cut_off_at(&db, "finish.connected", &["finish", file]);
    assert_eq!(code, 3, "{out}");
    // Nothing was left half-done: the database is still PostgreSQL-primary and verifies.
    let (code, out, err) = run_bin(&["status", file, "--format", "json"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("\"primary\": \"postgresql\""), "{out}");
    let (code, out, err) = run_bin(&["verify", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
}
