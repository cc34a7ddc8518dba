//! Test harness: a real PostgreSQL for every test, and SQLite fixtures built in code.
//!
//! Set `LITE2PG_TEST_URL` to a server URL whose user may create databases to use your own
//! server; otherwise one throwaway cluster per test binary is started from the local
//! server binaries. Every test gets its own database with a random name, dropped after.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use lite2pg::embedded::EmbeddedPg;
use lite2pg::pg::{connect, quote_ident, Client};
use lite2pg::plan::{render_sql, Plan, PlanOptions};
use lite2pg::translate::{make_plan, Check};

enum Server {
    External(String),
    Embedded(EmbeddedPg),
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn admin_url() -> String {
    let server = SERVER.get_or_init(|| match std::env::var("LITE2PG_TEST_URL") {
        Ok(url) if !url.is_empty() => Server::External(url),
        _ => Server::Embedded(
            EmbeddedPg::start().expect("start a throwaway PostgreSQL for the tests"),
        ),
    });
    match server {
        Server::External(url) => url.clone(),
        Server::Embedded(pg) => pg.url("postgres"),
    }
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..host_end])
}

/// A database of its own for one test; dropped at the end.
pub struct TestDb {
    /// Connection URL of the test database.
    pub url: String,
    name: String,
}

impl TestDb {
    /// Creates a fresh, empty database.
    pub fn new() -> TestDb {
        let admin = admin_url();
        let name = format!("lite2pg_test_{}", uuid::Uuid::new_v4().simple());
        let c = connect(&admin).expect("connect to the test server");
        c.batch_execute(
            "create test database",
            &format!("CREATE DATABASE {}", quote_ident(&name)),
        )
        .expect("create the test database");
        TestDb {
            url: with_database(&admin, &name),
            name,
        }
    }

    /// A new connection to the test database.
    pub fn client(&self) -> Client {
        connect(&self.url).expect("connect to the test database")
    }

    /// Runs a query returning one text column per row.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        self.client()
            .query("test query", sql, &[])
            .expect(sql)
            .iter()
            .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(c) = connect(&admin_url()) {
            let _ = c.batch_execute(
                "drop test database",
                &format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(&self.name)
                ),
            );
        }
    }
}

/// A SQLite fixture file in its own temporary directory.
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// The database file.
    pub path: PathBuf,
}

impl Fixture {
    /// A fixture from a directory and the file the test made in it.
    pub fn from_parts(dir: tempfile::TempDir, path: PathBuf) -> Fixture {
        Fixture { _dir: dir, path }
    }
}

/// Builds a SQLite database from `sql`.
pub fn sqlite(sql: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&path).expect("create sqlite file");
    conn.execute_batch(sql).expect("fixture SQL");
    Fixture { _dir: dir, path }
}

/// Plans `fixture` (test-applied on `db`), then applies the SQL for real.
pub fn plan_and_apply(fixture: &Fixture, db: &TestDb, options: &PlanOptions) -> Plan {
    let plan = make_plan(&fixture.path, options, &Check::Url(db.url.clone())).expect("plan");
    let sql = render_sql(&plan);
    db.client()
        .batch_execute("apply plan", &sql)
        .unwrap_or_else(|e| panic!("plan SQL failed: {e}\n{sql}"));
    plan
}

/// The finding codes of a plan, with their objects.
pub fn findings(plan: &Plan) -> Vec<String> {
    plan.findings
        .iter()
        .map(|f| format!("{} {}: {}", f.code, f.object, f.message))
        .collect()
}

/// A `migrate` request for `fixture` into `db`, quiet, two streams, rejects in the fixture's
/// directory.
pub fn migrate_request(fixture: &Fixture, db: &TestDb) -> lite2pg::migrate::MigrateRequest {
    lite2pg::migrate::MigrateRequest {
        source: fixture.path.clone(),
        target: lite2pg::pg::TargetChoice::Url(db.url.clone()),
        options: PlanOptions::default(),
        jobs: 2,
        tables: Vec::new(),
        exclude: Vec::new(),
        mode: lite2pg::migrate::Mode::All,
        resume: false,
        replace: false,
        verify: true,
        reject_file: Some(fixture.path.with_extension("rejects.jsonl")),
        reports: Vec::new(),
        quiet: true,
        stall_timeout: std::time::Duration::from_secs(60),
        source_copy: None,
        chunk_rows: lite2pg::copy::CHUNK_ROWS,
        source_zone: lite2pg::plan::SourceZone::Offset(0),
        truncate: false,
    }
}

/// Runs a migration in-process and returns its report.
pub fn migrate(req: &lite2pg::migrate::MigrateRequest) -> lite2pg::migrate::RunReport {
    lite2pg::migrate::migrate_with_report(req)
        .unwrap_or_else(|e| panic!("migrate failed: {e}"))
        .0
}

/// Starts lite2pg with `args` and `env` (which arms a sleeping failpoint) and returns once it
/// says it reached the failpoint, with the rest of its standard error still to read: the
/// test acts on the server or the file while the run waits.
pub fn spawn_to_failpoint(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
) {
    use std::io::BufRead;
    let mut child = bin_command(args, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run lite2pg");
    let mut err = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    while err.read_line(&mut line).expect("read stderr") > 0 && !line.contains("failpoint") {
        line.clear();
    }
    (child, err)
}

/// The lite2pg binary with `args`, and of the environment only what the test sets naming a
/// target.
pub fn bin_command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lite2pg"));
    cmd.args(args);
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the lite2pg binary with `args` and extra environment; returns (exit code, stdout,
/// stderr).
pub fn run_bin(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = bin_command(args, env).output().expect("run lite2pg");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
