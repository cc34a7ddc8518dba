//! `lite2pg migrate` and `demo` as a user runs them: rehearsal, targets from the
//! environment, secrets kept out of every output, a dropped connection, type conflicts.

mod common;

use std::time::{Duration, Instant};

use common::{migrate, migrate_request, run_bin, sqlite, TestDb};
use lite2pg::plan::TypeConflicts;

#[test]
fn migrate_without_a_target_rehearses_and_keeps_nothing() {
    let f =
        sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');");
    let (code, out, err) = run_bin(&["migrate", f.path.to_str().unwrap(), "--quiet"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("REHEARSAL PASSED"), "{out}");
    assert!(out.contains("nothing was kept"), "{out}");
    assert!(
        err.contains("rehearsing on a throwaway local PostgreSQL"),
        "{err}"
    );
}

#[test]
fn demo_rehearses_the_sample_database_and_shows_its_rejects() {
    let (code, out, err) = run_bin(&["demo"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("orders"), "{out}");
    assert!(out.contains("rejected rows"), "{out}");
    assert!(out.contains("text holds a NUL byte"), "{out}");
    // Not a terminal: progress comes as plain log lines, ending with the finished copy.
    assert!(err.contains("lite2pg: copy 100%: 4130/4130 rows"), "{err}");
}

/// Host, port, user and database of a `postgres://user@host:port/db` test URL.
fn parts(url: &str) -> (String, String, String, String) {
    let rest = url.split("://").nth(1).unwrap();
    let (auth, hostpart) = rest.split_once('@').unwrap();
    let user = auth.split(':').next().unwrap().to_string();
    let (hostport, db) = hostpart.split_once('/').unwrap();
    let db = db.split('?').next().unwrap().to_string();
    let (host, port) = hostport.rsplit_once(':').unwrap();
    (host.to_string(), port.to_string(), user, db)
}

#[test]
fn pg_environment_variables_name_the_target() {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (7);");
    let db = TestDb::new();
    let (host, port, user, dbname) = parts(&db.url);
    let (code, out, err) = run_bin(
        &["migrate", f.path.to_str().unwrap(), "--quiet"],
        &[
            ("PGHOST", &host),
            ("PGPORT", &port),
            ("PGUSER", &user),
            ("PGDATABASE", &dbname),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("MIGRATED AND VERIFIED"), "{out}");
    assert_eq!(db.strings("SELECT id::text FROM t"), vec!["7"]);
}

#[test]
fn a_password_never_appears_in_output_reports_or_the_control_schema() {
    let f = sqlite(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO t VALUES (1, 'ok'), (2, 'bad' || char(0));",
    );
    let db = TestDb::new();
    let secret = "Sup3rSecretPw";
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{secret}@"), 1);
    assert!(
        url.contains(secret),
        "test URL has no user part: {}",
        db.url
    );
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    let rejects = dir.path().join("rejects.jsonl");
    let (code, out, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &url,
            "--report",
            json.to_str().unwrap(),
            "--report",
            md.to_str().unwrap(),
            "--reject-file",
            rejects.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1, "one row is rejected: {out}\n{err}");
    for (what, text) in [
        ("stdout", out),
        ("stderr", err),
        ("json", std::fs::read_to_string(&json).unwrap()),
        ("markdown", std::fs::read_to_string(&md).unwrap()),
        ("rejects", std::fs::read_to_string(&rejects).unwrap()),
    ] {
        assert!(!text.contains(secret), "{what} shows the password:\n{text}");
    }
    let control = db.strings(
        "SELECT concat_ws(' ', r::text, (SELECT string_agg(o::text, ' ') FROM lite2pg.objects o), \
         (SELECT string_agg(j::text, ' ') FROM lite2pg.rejects j)) FROM lite2pg.runs r",
    );
    assert!(!control[0].contains(secret), "{control:?}");
    // The report kept in the control schema shows the target, masked.
    assert!(control[0].contains("postgres:****@"), "{control:?}");
}

#[test]
fn a_dropped_connection_exits_3_and_resume_finishes_the_copy() {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);");
    {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        c.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
             INSERT INTO t SELECT i, printf('row %d', i) FROM n;",
        )
        .unwrap();
    }
    let db = TestDb::new();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lite2pg"))
        .args([
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &db.url,
            "--quiet",
        ])
        .env("LITE2PG_CHUNK_ROWS", "100")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let n = db
            .client()
            .query("poll", "SELECT count(*) FROM lite2pg.chunks", &[])
            .map(|r| r[0].get::<_, i64>(0))
            .unwrap_or(0);
        if n >= 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the copy never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    db.client()
        .query(
            "drop lite2pg's connections",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend'",
            &[],
        )
        .unwrap();
    let dropped = Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(dropped.elapsed() < Duration::from_secs(30));
    assert!(err.contains("--resume"), "{err}");
    let (code, stdout, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &db.url,
            "--quiet",
            "--resume",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}\n{err}");
    assert_eq!(
        db.strings("SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || sum(id) FROM t"),
        vec![format!("60000 60000 {}", 60000i64 * 60001 / 2)]
    );
}

#[test]
fn type_conflicts_reject_sends_the_minority_to_the_reject_file() {
    let f = sqlite(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, n INTEGER);
         INSERT INTO m VALUES (1, 10), (2, 20), (3, 'thirty'), (4, 40);",
    );
    let db = TestDb::new();
    let mut req = migrate_request(&f, &db);
    req.options.type_conflicts = TypeConflicts::Reject;
    let report = migrate(&req);
    assert_eq!(report.exit_code, 1);
    assert_eq!(report.rows_rejected, 1);
    assert_eq!(
        db.strings("SELECT string_agg(n::text, ',' ORDER BY id) FROM m"),
        vec!["10,20,40"]
    );
    let line = std::fs::read_to_string(req.reject_file.unwrap()).unwrap();
    assert!(line.contains("\"key\":{\"id\":3}"), "{line}");
    assert!(line.contains("\"value\":\"thirty\""), "{line}");
    assert!(line.contains("cannot be stored in a bigint"), "{line}");
}
