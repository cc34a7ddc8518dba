//! A WAL database that nothing has open, its changes all checkpointed into the file, is read
//! where it is, without locking and without a copy (which cost 1.8 s of an 821 MB file on
//! the benchmark): nothing is created beside it, and an application that writes it while it
//! is read stops the run (exit 2) instead of leaving rows from two moments.

mod common;

use common::{run_bin, TestDb};

/// A checkpointed WAL database with `rows` rows, closed: no `-wal`, no `-shm`.
fn closed_wal_db(rows: i64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    // A name a URI must escape, to read it in place all the same.
    let path = dir.path().join("app #1?.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
    )
    .unwrap();
    c.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO t SELECT i, 'v' || i FROM n",
        [rows],
    )
    .unwrap();
    drop(c);
    (dir, path)
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn a_wal_database_nothing_has_open_is_read_in_place_and_nothing_is_created_beside_it() {
    let (dir, path) = closed_wal_db(1000);
    assert_eq!(names(dir.path()), vec!["app #1?.db"]);
    let db = TestDb::new();
    let env = [("DATABASE_URL", db.url.as_str())];
    let file = path.to_str().unwrap();
    let (code, out, err) = run_bin(&["migrate", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("read in place without locking"), "{out}");
    assert_eq!(db.strings("SELECT count(*)::text FROM t"), vec!["1000"]);
    let (code, out, err) = run_bin(&["verify", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        names(dir.path()),
        vec!["app #1?.db"],
        "no -shm, -wal or copy left"
    );
}

#[test]
fn an_application_writing_the_file_while_it_is_read_in_place_stops_the_run() {
    let (dir, path) = closed_wal_db(100);
    let db = TestDb::new();
    let env = [("DATABASE_URL", db.url.as_str())];
    let file = path.to_str().unwrap();
    let (code, out, err) = run_bin(&["migrate", file, "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    // verify opens the file, then waits at a failpoint while the application writes it and
    // closes it (its checkpoint rewrites the file's pages under the reader).
    let (child, mut err) = common::spawn_to_failpoint(
        &["verify", file],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LITE2PG_FAILPOINT", "verify.compare=sleep:1500"),
        ],
    );
    let app = rusqlite::Connection::open(&path).unwrap();
    app.execute("INSERT INTO t VALUES (1000, 'late')", [])
        .unwrap();
    drop(app);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{rest}");
    assert!(
        rest.contains("the file changed while lite2pg read it"),
        "{rest}"
    );
    assert_eq!(names(dir.path()), vec!["app #1?.db"]);
}
