//! Bad input gets one clear line and exit code 2, never a panic or a stack trace.

use std::process::{Command, Output};

fn plan(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lite2pg"))
        .args(["plan", "--no-check"])
        .arg(path)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run lite2pg")
}

/// Plans `path` as JSON and expects success.
fn plan_json(path: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lite2pg"))
        .args(["plan", "--no-check", "--format", "json"])
        .arg(path)
        .output()
        .expect("run lite2pg");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("plan JSON")
}

fn assert_clear_exit_2(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn missing_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_clear_exit_2(&plan(&dir.path().join("nope.db")), "no such file");
}

#[test]
fn directory_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_clear_exit_2(&plan(dir.path()), "is a directory");
}

#[test]
fn empty_and_non_sqlite_and_encrypted_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert_clear_exit_2(&plan(&empty), "empty");
    let text = dir.path().join("notes.db");
    std::fs::write(&text, b"just some text, not a database\n").unwrap();
    assert_clear_exit_2(&plan(&text), "not a SQLite database");
    // SQLCipher files look like random bytes from the first byte on.
    let enc = dir.path().join("enc.db");
    std::fs::write(
        &enc,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_clear_exit_2(&plan(&enc), "encrypted");
}

#[test]
fn corrupt_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(50)) FROM n;").unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    for b in bytes.iter_mut().skip(4096).take(8192) {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_clear_exit_2(&plan(&path), "malformed");
}

#[test]
fn database_locked_by_a_writer_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE t (x); INSERT INTO t VALUES (1); BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);",
    )
    .unwrap();
    assert_clear_exit_2(&plan(&path), "locked");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lite2pg"))
        .args(["plan", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plan_json_has_the_documented_top_level_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');",
        )
        .unwrap();
    let v = plan_json(&path);
    for key in [
        "format_version",
        "source",
        "sqlite_version",
        "options",
        "tables",
        "views",
        "findings",
        "ddl",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["tables"][0]["columns"][1]["pg_type"], "text");
    assert_eq!(v["tables"][0]["row_identity"]["kind"], "primary_key");
}

#[test]
fn wal_database_is_read_with_its_sidecar_and_nothing_is_created_beside_it() {
    let live = tempfile::tempdir().unwrap();
    let path = live.path().join("live.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE only_in_wal (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO only_in_wal VALUES (1, 'x');",
    )
    .unwrap();
    // Copy the pair while the writer still holds the data in the -wal file.
    let copy = tempfile::tempdir().unwrap();
    let db = copy.path().join("app.db");
    std::fs::copy(&path, &db).unwrap();
    std::fs::copy(
        live.path().join("live.db-wal"),
        copy.path().join("app.db-wal"),
    )
    .unwrap();
    drop(c);
    let v = plan_json(&db);
    assert_eq!(v["tables"][0]["source"], "only_in_wal");
    assert_eq!(v["tables"][0]["rows"], 1);
    let mut names: Vec<String> = std::fs::read_dir(copy.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["app.db", "app.db-wal"],
        "no -shm or other file created"
    );
}

/// Runs the binary with `args` and no target variables, expecting clap's usage error.
fn usage_error(args: &[&str], needle: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_lite2pg"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run lite2pg");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn out_of_range_options_are_usage_errors_not_silent_changes() {
    // Each used to be replaced or clamped without a word: --jobs 0 by the core count,
    // --max-freeze by a millisecond or a day, --stall-timeout 0 by one second.
    usage_error(&["migrate", "x.db", "--jobs", "0"], "--jobs");
    usage_error(&["verify", "x.db", "--jobs", "0"], "--jobs");
    usage_error(&["sync", "x.db", "--jobs", "0"], "--jobs");
    usage_error(
        &["migrate", "x.db", "--stall-timeout", "0"],
        "--stall-timeout",
    );
    usage_error(&["verify", "x.db", "--sample", "0"], "outside (0, 1]");
    usage_error(&["verify", "x.db", "--sample", "1.5"], "outside (0, 1]");
    usage_error(&["verify", "x.db", "--sample", "half"], "not a number");
    usage_error(
        &["cutover", "x.db", "--max-freeze", "0"],
        "outside (0, 86400]",
    );
    usage_error(
        &["cutover", "x.db", "--max-freeze=-1"],
        "outside (0, 86400]",
    );
    usage_error(
        &["rollback", "x.db", "--max-freeze", "90000"],
        "outside (0, 86400]",
    );
    usage_error(
        &["rollback", "x.db", "--max-freeze", "inf"],
        "outside (0, 86400]",
    );
    usage_error(&["sync", "x.db", "--interval", "0"], "--interval");
}
