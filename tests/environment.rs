//! The target's and the machine's setup getting in the way: an unwritable reject file or
//! report, a role without the privileges lite2pg needs, a read-only target. Each is exit 3
//! with what to do, and the data already migrated stays consistent.

mod common;

use common::{run_bin, sqlite, Fixture, TestDb};

/// Two good rows and one lite2pg must reject (a NUL byte in text).
fn fixture() -> Fixture {
    let f = sqlite("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);");
    let c = rusqlite::Connection::open(&f.path).unwrap();
    c.execute_batch(
        "INSERT INTO notes VALUES (1, 'one'), (2, 'two');
         INSERT INTO notes VALUES (3, 'a' || char(0) || 'b');",
    )
    .unwrap();
    f
}

/// The test database's URL, connecting as `role` instead of `postgres`.
fn as_role(db: &TestDb, role: &str) -> String {
    db.url.replacen("postgres@", &format!("{role}@"), 1)
}

#[test]
fn an_unwritable_reject_file_exits_3_and_resume_writes_it_once_fixed() {
    let f = fixture();
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            path,
            "--to",
            &db.url,
            "--quiet",
            "--reject-file",
            "/nonexistent-dir/r.jsonl",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("writing the reject file /nonexistent-dir/r.jsonl"),
        "{err}"
    );
    assert!(err.contains("--resume"), "{err}");
    // The data is committed and consistent.
    assert_eq!(
        db.strings("SELECT string_agg(body, ',' ORDER BY id) FROM notes"),
        vec!["one,two"]
    );
    let good = f.path.with_extension("rejects.jsonl");
    let (code, out, err) = run_bin(
        &[
            "migrate",
            path,
            "--to",
            &db.url,
            "--quiet",
            "--resume",
            "--reject-file",
            good.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1, "the reject makes it 1: {out}{err}");
    let lines = std::fs::read_to_string(&good).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains("\"id\":3"), "{lines}");
}

#[test]
fn an_unwritable_report_exits_3_and_says_where_the_report_is_kept() {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
    let db = TestDb::new();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &db.url,
            "--quiet",
            "--report",
            "/proc/lite2pg-report.json",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("writing the report /proc/lite2pg-report.json"),
        "{err}"
    );
    assert!(err.contains("lite2pg.runs.report"), "{err}");
    assert_eq!(db.strings("SELECT status FROM lite2pg.runs"), vec!["done"]);
    assert_eq!(db.strings("SELECT count(*)::text FROM t"), vec!["1"]);
}

#[test]
fn a_role_without_privileges_exits_3_naming_the_missing_privilege() {
    let f = fixture();
    let db = TestDb::new();
    let role = format!("weak_{}", std::process::id());
    db.client()
        .batch_execute(
            "create a role",
            &format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"),
        )
        .unwrap();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &as_role(&db, &role),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("lacks this privilege"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
    db.client()
        .batch_execute("drop the role", &format!("DROP ROLE {role}"))
        .unwrap();
}

#[test]
fn a_read_only_target_exits_3_and_points_at_the_primary() {
    let f = fixture();
    let db = TestDb::new();
    let name = db.strings("SELECT current_database()")[0].clone();
    db.client()
        .batch_execute(
            "make the target read-only",
            &format!("ALTER DATABASE \"{name}\" SET default_transaction_read_only = on"),
        )
        .unwrap();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &db.url,
            "--quiet",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert!(err.contains("primary"), "{err}");
}

#[test]
fn a_full_disk_under_the_reject_file_or_report_exits_3_with_the_data_consistent() {
    let f = fixture();
    let db = TestDb::new();
    // /dev/full refuses every write with ENOSPC, as a full disk does.
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("full.rejects.jsonl");
    let report = dir.path().join("full.json");
    std::os::unix::fs::symlink("/dev/full", &rejects).unwrap();
    std::os::unix::fs::symlink("/dev/full", &report).unwrap();
    let path = f.path.to_str().unwrap();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            path,
            "--to",
            &db.url,
            "--quiet",
            "--reject-file",
            rejects.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(
        db.strings("SELECT string_agg(body, ',' ORDER BY id) FROM notes"),
        vec!["one,two"]
    );

    let f2 = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
    let db2 = TestDb::new();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            f2.path.to_str().unwrap(),
            "--to",
            &db2.url,
            "--quiet",
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(db2.strings("SELECT count(*)::text FROM t"), vec!["1"]);
}

#[test]
fn a_hot_standby_as_the_target_exits_3_and_points_at_the_primary() {
    let primary = lite2pg::embedded::EmbeddedPg::start().unwrap();
    let standby = primary.standby().expect("a streaming standby");
    let f = fixture();
    let (code, _, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &standby.url("postgres"),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert!(err.contains("point --to at the primary"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
}
