//! `lite2pg sync` and `status` against a real PostgreSQL, with the application's writes made
//! by a separate process: the initial migration under capture, every kind of write carried
//! (key changes, INSERT OR REPLACE on a unique column, multi-row transactions, tables keyed by
//! a composite key or only by the rowid), a SIGKILLed sync resuming, schema changes stopping
//! the applier, and rows PostgreSQL cannot hold reported rather than lost.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin_command, run_bin, sqlite, TestDb};

const SCHEMA: &str = "PRAGMA journal_mode = WAL;
    CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        sku TEXT NOT NULL UNIQUE,
        qty INTEGER NOT NULL DEFAULT 0,
        price REAL,
        parent_id INTEGER REFERENCES parent(id)
    );
    CREATE TABLE pairs (a TEXT, b INTEGER, v REAL, PRIMARY KEY (a, b)) WITHOUT ROWID;
    CREATE TABLE loose (x INTEGER, y TEXT);
    INSERT INTO parent VALUES (1, 'one'), (2, 'two');
    INSERT INTO items (id, sku, qty, price, parent_id) VALUES
        (1, 'A', 1, 0.1, 1), (2, 'B', 2, 0.2, 2), (3, 'C', 3, NULL, NULL);
    INSERT INTO pairs VALUES ('x', 1, 1.5), ('y', 2, 2.5);
    INSERT INTO loose VALUES (1, 'a'), (1, 'a'), (2, NULL);";

fn url_env(db: &TestDb) -> Vec<(&'static str, String)> {
    vec![("DATABASE_URL", db.url.clone())]
}

fn lite2pg(args: &[&str], db: &TestDb) -> (i32, String, String) {
    let env = url_env(db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_bin(args, &env)
}

fn sync_once(path: &Path, db: &TestDb) -> (i32, String, String) {
    lite2pg(&["sync", path.to_str().unwrap(), "--once", "--quiet"], db)
}

fn verify(path: &Path, db: &TestDb) -> (i32, String, String) {
    lite2pg(&["verify", path.to_str().unwrap()], db)
}

fn app(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

#[test]
fn sync_migrates_under_capture_then_carries_every_kind_of_write() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(db.strings("SELECT count(*)::text FROM items"), vec!["3"]);

    // Capture is in the file now; the application writes with plain SQL, no extension.
    app(&f.path)
        .execute_batch(
            "INSERT INTO items (id, sku, qty) VALUES (4, 'D', 4);
             UPDATE items SET qty = 30 WHERE id = 3;
             UPDATE items SET id = 33 WHERE id = 3;
             DELETE FROM items WHERE id = 2;
             -- replaces row 1 through the UNIQUE sku: SQLite fires no DELETE trigger for it
             INSERT OR REPLACE INTO items (id, sku, qty) VALUES (10, 'A', 100);
             BEGIN;
             INSERT INTO parent VALUES (3, 'three');
             INSERT INTO items (id, sku, qty, parent_id) VALUES (11, 'K', 1, 3);
             COMMIT;
             INSERT INTO pairs VALUES ('it''s, odd', 7, 0.5);
             UPDATE pairs SET a = 'even' WHERE b = 7;
             DELETE FROM pairs WHERE a = 'x';
             UPDATE loose SET y = 'b' WHERE rowid = 2;
             DELETE FROM loose WHERE rowid = 3;
             INSERT INTO loose VALUES (9, 'z');",
        )
        .unwrap();
    let (code, out, err) = lite2pg(
        &["status", f.path.to_str().unwrap(), "--format", "json"],
        &db,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["primary"], "sqlite");
    assert_eq!(status["direction"], "sqlite→pg");
    // 13 statements' rows, and row 1, which the REPLACE deleted without a trigger firing.
    assert_eq!(status["pending_changes"], 14, "{status}");

    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        db.strings("SELECT id || ':' || sku || ':' || qty FROM items ORDER BY id"),
        vec!["4:D:4", "10:A:100", "11:K:1", "33:C:30"]
    );
    assert_eq!(
        db.strings("SELECT a || ':' || b FROM pairs ORDER BY a"),
        vec!["even:7", "y:2"]
    );
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");

    let (code, out, _) = lite2pg(
        &["status", f.path.to_str().unwrap(), "--format", "json"],
        &db,
    );
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["pending_changes"], 0, "{status}");
    assert!(status["applied_rows"].as_i64().unwrap() > 0, "{status}");
    assert!(status["last_error"].is_null(), "{status}");
}

#[test]
fn a_schema_change_on_the_source_stops_sync_with_a_clear_message() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    app(&f.path)
        .execute_batch(
            "ALTER TABLE items ADD COLUMN note TEXT; UPDATE items SET note = 'n' WHERE id = 1;",
        )
        .unwrap();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("schema of the synced tables changed"), "{err}");
    let (code, out, _) = lite2pg(&["status", f.path.to_str().unwrap()], &db);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("last error"), "{out}");
}

#[test]
fn a_row_postgresql_cannot_hold_is_reported_and_carried_once_fixed() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    let a = app(&f.path);
    a.execute_batch("INSERT INTO items (id, sku, qty) VALUES (5, 'E', 5)")
        .unwrap();
    // A NUL byte: PostgreSQL text cannot hold it.
    a.execute(
        "UPDATE items SET sku = ?1 WHERE id = 5",
        [rusqlite::types::Value::Text("E\0x".into())],
    )
    .unwrap();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = lite2pg(&["status", f.path.to_str().unwrap()], &db);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not carried:      1 row"), "{out}");
    assert!(db.strings("SELECT reason FROM lite2pg.sync_rejects")[0].contains("NUL"));
    a.execute("UPDATE items SET sku = 'E2' WHERE id = 5", [])
        .unwrap();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    assert_eq!(db.strings("SELECT sku FROM items WHERE id = 5"), vec!["E2"]);
    assert_eq!(lite2pg(&["status", f.path.to_str().unwrap()], &db).0, 0);
}

#[test]
fn rows_replace_removed_stay_removed_though_the_row_that_replaced_them_is_gone() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    // REPLACE deletes the rows holding the new row's unique values without a DELETE
    // trigger firing; by the time sync reads the current rows, the new row no longer shows
    // which rows it pushed out.
    app(&f.path)
        .execute_batch(
            "INSERT OR REPLACE INTO items (id, sku, qty) VALUES (50, 'B', 1);
             DELETE FROM items WHERE id = 50;
             UPDATE OR REPLACE items SET sku = 'A' WHERE id = 3;
             UPDATE items SET sku = 'Z' WHERE id = 3;",
        )
        .unwrap();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        db.strings("SELECT id || ':' || sku FROM items ORDER BY id"),
        vec!["3:Z"]
    );
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// The application: a process of its own writing every kind of change until a stop file
/// appears. Started by the tests below; does nothing when run on its own.
#[test]
#[ignore = "the writer process of sync_follows_a_live_writer; it starts this itself"]
fn writer_process() {
    let Ok(path) = std::env::var("LITE2PG_TEST_WRITER_DB") else {
        return;
    };
    let stop = format!("{path}.stop");
    let c = app(Path::new(&path));
    let mut seed: u64 = std::process::id() as u64;
    let mut rand = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut next_id = 1000;
    let mut writes = 0u64;
    while !Path::new(&stop).exists() {
        next_id += 1;
        let id = 1000 + rand(next_id - 1000 + 1) as i64;
        let sql = match rand(9) {
            0 => format!(
                "INSERT OR IGNORE INTO items (id, sku, qty, price, parent_id) \
                 VALUES ({next_id}, 'S{next_id}', 1, 0.25, 1)"
            ),
            1 => format!("UPDATE items SET qty = qty + 1, price = price * 1.5 WHERE id = {id}"),
            2 => format!("UPDATE OR IGNORE items SET id = id + 100000 WHERE id = {id}"),
            3 => format!("DELETE FROM items WHERE id = {id}"),
            4 => format!(
                "INSERT OR REPLACE INTO items (id, sku, qty) VALUES ({next_id}, 'S{}', 7)",
                id
            ),
            5 => format!(
                "BEGIN; INSERT INTO parent VALUES ({next_id}, 'p'); \
                 INSERT OR IGNORE INTO items (id, sku, qty, parent_id) VALUES ({next_id}, 'P{next_id}', 2, {next_id}); \
                 UPDATE items SET qty = 0 WHERE id = {id}; COMMIT;"
            ),
            6 => format!(
                "INSERT OR REPLACE INTO pairs VALUES ('k{}', {}, {}.5)",
                id % 50,
                id % 7,
                next_id
            ),
            7 => format!(
                "UPDATE OR IGNORE pairs SET a = 'm{}' WHERE a = 'k{}'",
                id % 60,
                id % 50
            ),
            _ => format!(
                "INSERT INTO loose VALUES ({next_id}, 'w'); DELETE FROM loose WHERE x = {id}; \
                 UPDATE loose SET y = 'u' WHERE x = {}",
                id + 1
            ),
        };
        c.execute_batch(&sql).unwrap();
        writes += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    std::fs::write(format!("{path}.writes"), writes.to_string()).unwrap();
}

/// Stops the writer however the test ends.
struct StopFile(String);

impl Drop for StopFile {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
    }
}

fn start_writer(path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["writer_process", "--exact", "--ignored", "--nocapture"])
        .env("LITE2PG_TEST_WRITER_DB", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn start_sync(path: &Path, db: &TestDb) -> Child {
    let env = url_env(db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    bin_command(
        &[
            "sync",
            path.to_str().unwrap(),
            "--interval",
            "50",
            "--quiet",
        ],
        &env,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sync_follows_a_live_writer_and_resumes_after_sigkill() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    let writer = start_writer(&f.path);
    let _stop_writer = StopFile(format!("{}.stop", f.path.display()));
    // The writer is running before and during the initial migration.
    std::thread::sleep(Duration::from_millis(300));
    let mut sync = start_sync(&f.path, &db);
    wait_for("the first applied batch", Duration::from_secs(120), || {
        !db.strings("SELECT to_regclass('lite2pg.sync_state')::text")[0].is_empty()
            && db.strings("SELECT coalesce(max(applied_rows), 0)::text FROM lite2pg.sync_state")[0]
                != "0"
    });
    std::thread::sleep(Duration::from_millis(500));
    sync.kill().unwrap(); // SIGKILL, mid-stream
    sync.wait().unwrap();
    let sync = start_sync(&f.path, &db);
    std::thread::sleep(Duration::from_secs(2));

    std::fs::write(format!("{}.stop", f.path.display()), "").unwrap();
    let mut writer = writer;
    assert!(writer.wait().unwrap().success());
    let writes: u64 = std::fs::read_to_string(format!("{}.writes", f.path.display()))
        .unwrap()
        .parse()
        .unwrap();
    assert!(writes > 100, "the writer made only {writes} writes");

    wait_for("the log to drain", Duration::from_secs(60), || {
        let (_, out, _) = lite2pg(
            &["status", f.path.to_str().unwrap(), "--format", "json"],
            &db,
        );
        serde_json::from_str::<serde_json::Value>(&out)
            .map(|s| s["pending_changes"] == 0)
            .unwrap_or(false)
    });
    let file = f.path.to_str().unwrap();

    // Cutover while sync keeps running.
    let (code, out, err) = lite2pg(&["cutover", file, "--format", "json"], &db);
    if code != 0 {
        // Which rows differ says whether capture, the applier or verify is wrong.
        let (_, diff, _) = lite2pg(&["verify", file, "--format", "json"], &db);
        panic!("cutover exited {code}: {out}\n{err}\nverify: {diff}");
    }
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["primary"], "postgresql");
    assert!(report["freeze_s"].as_f64().unwrap() < 5.0, "{report}");
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let refused = app(&f.path)
        .execute("INSERT INTO parent VALUES (900000, 'late')", [])
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("cut over to PostgreSQL") && refused.contains("lite2pg rollback"),
        "{refused}"
    );

    // The application now writes PostgreSQL; the running sync carries it back to SQLite.
    let pg = db.client();
    pg.batch_execute(
        "application writes",
        "INSERT INTO items (sku, qty, parent_id) VALUES ('PG1', 5, 1);
         UPDATE items SET qty = qty + 1000 WHERE id IN (SELECT id FROM items ORDER BY id LIMIT 3);
         DELETE FROM items WHERE id = (SELECT max(id) FROM items WHERE sku <> 'PG1');
         INSERT INTO pairs VALUES ('pg', 1, 0.125);
         INSERT INTO loose (x, y) VALUES (-1, 'from pg');",
    )
    .unwrap();
    wait_for("the reverse apply", Duration::from_secs(30), || {
        app(&f.path)
            .query_row("SELECT count(*) FROM items WHERE sku = 'PG1'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
            == 1
    });

    // SIGTERM stops it cleanly, with exit 0.
    let pid = sync.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = sync.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");

    // More writes with no sync running: rollback drains them itself.
    pg.batch_execute(
        "application writes",
        "UPDATE pairs SET a = 'pg2' WHERE a = 'pg'; INSERT INTO items (sku, qty) VALUES ('PG2', 6);",
    )
    .unwrap();
    let (code, out, err) = lite2pg(&["rollback", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let lite = app(&f.path);
    let got: i64 = lite
        .query_row(
            "SELECT count(*) FROM items WHERE sku IN ('PG1', 'PG2')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(got, 2);
    let loose: String = lite
        .query_row("SELECT y FROM loose WHERE x = -1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(loose, "from pg");
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let refused = pg
        .batch_execute("late write", "UPDATE items SET qty = 0")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("rolled back to SQLite"), "{refused}");

    // SQLite is primary again and captured: a new write reaches PostgreSQL.
    lite.execute("INSERT INTO items (sku, qty) VALUES ('BACK', 1)", [])
        .unwrap();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        db.strings("SELECT count(*)::text FROM items WHERE sku = 'BACK'"),
        vec!["1"]
    );

    // A second cutover: PostgreSQL's guards from the rollback give way to capture.
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    pg.batch_execute(
        "write after the second cutover",
        "UPDATE items SET qty = 5 WHERE sku = 'BACK'",
    )
    .unwrap();

    // finish: nothing of lite2pg's is left on either side.
    let (code, out, err) = lite2pg(&["finish", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let left: i64 = lite
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_lite2pg\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        db.strings(
            "SELECT count(*)::text FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%lite2pg%'"
        ),
        vec!["0"]
    );
    assert_eq!(
        db.strings("SELECT count(*)::text FROM pg_namespace WHERE nspname = 'lite2pg'"),
        vec!["0"]
    );
    // PostgreSQL stays the primary, unguarded; SQLite is a copy nobody guards either.
    pg.batch_execute(
        "write after finish",
        "UPDATE items SET qty = 6 WHERE sku = 'BACK'",
    )
    .unwrap();
    lite.execute("INSERT INTO items (sku, qty) VALUES ('FREE', 1)", [])
        .unwrap();
}

#[test]
fn a_stray_write_to_postgresql_is_refused_and_a_cutover_whose_verification_fails_leaves_sqlite_primary(
) {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    let a = app(&f.path);
    a.execute("UPDATE items SET qty = 7 WHERE id = 1", [])
        .unwrap();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    // An application writing to PostgreSQL while SQLite is the primary is refused at once.
    let refused = db
        .client()
        .batch_execute("a stray write", "UPDATE items SET qty = -1 WHERE id = 1")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("SQLite is the primary"), "{refused}");
    // Differences nobody captured: PostgreSQL edited behind sync's back (past the guard,
    // as lite2pg's own appliers write), in a row written since the last verification
    // (checked by default) and in one that was not (checked by --verify full).
    db.client()
        .batch_execute(
            "tamper",
            "SET lite2pg.applying = 'on'; \
             UPDATE items SET qty = -1 WHERE id = 1; UPDATE pairs SET v = 0 WHERE a = 'x'; \
             RESET lite2pg.applying",
        )
        .unwrap();
    let file = f.path.to_str().unwrap();
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("NOT DONE") && out.contains("\"items\" (1 differing"),
        "{out}"
    );
    assert!(!out.contains("\"pairs\""), "{out}");
    let (code, out, err) = lite2pg(&["cutover", file, "--verify", "full"], &db);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("\"pairs\""), "{out}");
    // The application's next writes repair the rows (sync carries them).
    a.execute("UPDATE items SET qty = 2 WHERE id = 1", [])
        .unwrap();
    a.execute("UPDATE pairs SET v = 1.5 WHERE a = 'x'", [])
        .unwrap();
    let (_, out, _) = lite2pg(&["status", file, "--format", "json"], &db);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["primary"], "sqlite");
    assert_eq!(status["pending_changes"], 2, "{status}");
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        db.strings("SELECT count(*)::text FROM lite2pg.sync_events WHERE NOT ok"),
        vec!["2"]
    );
}

#[test]
fn orphans_written_in_sqlite_stop_a_cutover_unless_allowed() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    // With foreign_keys off (SQLite's default) the application may write an orphan.
    app(&f.path)
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO items (id, sku, qty, parent_id) VALUES (50, 'O', 1, 777);",
        )
        .unwrap();
    let file = f.path.to_str().unwrap();
    // The applier does not stall on it.
    assert_eq!(sync_once(&f.path, &db).0, 0);
    let (code, out, _) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reference no row of \"parent\""), "{out}");
    let (code, out, err) = lite2pg(&["cutover", file, "--allow-orphans"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn rollback_run_removes_exactly_what_that_run_created() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    db.client()
        .batch_execute(
            "someone else's table",
            "CREATE TABLE public.keep_me (x int)",
        )
        .unwrap();
    let file = f.path.to_str().unwrap();
    let (code, out, err) = lite2pg(&["migrate", file, "--quiet"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let run = db.strings("SELECT id::text FROM lite2pg.runs")[0].clone();
    let (code, out, err) = lite2pg(&["rollback", file, "--run", &run], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("dropped 4 table(s)"), "{out}");
    assert_eq!(
        db.strings(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"
        ),
        vec!["keep_me"]
    );
    assert_eq!(
        db.strings("SELECT status FROM lite2pg.runs"),
        vec!["rolled_back"]
    );
}

#[test]
fn values_written_in_postgresql_come_back_to_sqlite_as_sqlite_stored_them() {
    let f = sqlite(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE typed (
             id INTEGER PRIMARY KEY,
             flag BOOLEAN NOT NULL,
             day DATE,
             at DATETIME,
             at_utc DATETIME,
             epoch TIMESTAMP,
             price NUMERIC(10,2),
             ratio REAL,
             doc JSON,
             uid TEXT,
             email TEXT COLLATE NOCASE UNIQUE,
             raw BLOB
         );
         INSERT INTO typed VALUES
           (1, 1, '2024-02-29', '2024-02-29 13:45:00', '2024-02-29T13:45:00Z', 1700000000,
            12.5, 0.1, '{\"a\": [1, 2]}', '2f1e8a4e-6d1c-4a7e-9c53-3f7a2b0d9e11', 'A@x.io', x'00ff'),
           (2, 0, '1999-12-31', '1999-12-31 23:59:59.25', '1999-12-31T23:59:59Z', 946684799,
            -3, -0.0, '[]', '00000000-0000-0000-0000-000000000001', 'b@x.io', NULL);",
    );
    let db = TestDb::new();
    let file = f.path.to_str().unwrap();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let types = db.strings(
        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) \
         FROM information_schema.columns WHERE table_name = 'typed'",
    );
    db.client()
        .batch_execute(
            "application writes",
            "UPDATE typed SET flag = NOT flag, day = day + 1, at = at + interval '1 hour', \
                 at_utc = at_utc + interval '30 minutes', epoch = epoch + interval '1 day', \
                 price = price * 2, ratio = ratio + 1, doc = doc || '{\"b\": true}', \
                 email = upper(email) WHERE id = 1;
             INSERT INTO typed (flag, day, at, at_utc, epoch, price, ratio, doc, uid, email, raw)
             VALUES (true, '2030-01-01', '2030-01-01 00:00:00.5', '2030-01-01 00:00:00+00',
                     '2030-01-01 00:00:00+00', 1.25, 1e-300, '{}',
                     'c2f1e8a4-6d1c-4a7e-9c53-3f7a2b0d9e11', 'c@x.io', '\\x0102');",
        )
        .unwrap();
    let (code, out, err) = lite2pg(&["rollback", file], &db);
    assert_eq!(code, 0, "{out}\n{err}\n{types:?}");
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}\n{types:?}");
    let row: (i64, String, String, String, i64, String) = app(&f.path)
        .query_row(
            "SELECT flag, day, at, at_utc, epoch, typeof(epoch) FROM typed WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(row.0, 0, "{types:?}");
    assert_eq!(row.1, "2024-03-01");
    assert_eq!(row.2, "2024-02-29 14:45:00");
    assert!(
        row.3.starts_with("2024-02-29") && row.3.contains("14:15:00"),
        "{row:?}"
    );
    assert_eq!(
        (row.4, row.5.as_str()),
        (1_700_086_400, "integer"),
        "{types:?}"
    );
}

#[test]
fn a_virtual_table_sync_cannot_follow_is_compared_whole_at_cutover() {
    let f = sqlite(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);
         CREATE VIRTUAL TABLE notes USING fts5(body);
         INSERT INTO items VALUES (1, 'a');
         INSERT INTO notes (body) VALUES ('first note');",
    );
    let db = TestDb::new();
    let file = f.path.to_str().unwrap();
    let (code, out, err) = lite2pg(&["sync", file, "--once"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("virtual tables") && err.contains("\"notes\""),
        "{err}"
    );
    // SQLite allows no trigger on it: this write is not captured.
    app(&f.path)
        .execute("INSERT INTO notes (body) VALUES ('second note')", [])
        .unwrap();
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("\"notes\""), "{out}");
    // Migrating again under capture brings it over; then the cutover goes through.
    let (code, out, err) = lite2pg(&["sync", file, "--once", "--replace", "--quiet"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn a_cutover_that_would_freeze_writers_too_long_is_undone() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    let file = f.path.to_str().unwrap();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    app(&f.path)
        .execute("UPDATE items SET qty = 9 WHERE id = 1", [])
        .unwrap();
    // Something inside the freeze takes 600 ms; the operator allows 200.
    let (code, out, err) = run_bin(
        &["cutover", file, "--max-freeze", "0.2", "--format", "json"],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LITE2PG_FAILPOINT", "cutover.frozen=sleep:600"),
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["primary"], "sqlite");
    assert!(
        report["reason"].as_str().unwrap().contains("--max-freeze"),
        "{report}"
    );
    assert!(report["freeze_s"].as_f64().unwrap() < 2.0, "{report}");
    // SQLite is still the primary and writable, its change still waits for PostgreSQL.
    app(&f.path)
        .execute("UPDATE items SET qty = 10 WHERE id = 1", [])
        .unwrap();
    let (_, out, _) = lite2pg(&["status", file, "--format", "json"], &db);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["primary"], "sqlite", "{status}");
    assert_eq!(
        db.strings("SELECT count(*)::text FROM lite2pg.pg_changes"),
        vec!["0"]
    );
    let (code, out, err) = lite2pg(&["cutover", file], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        db.strings("SELECT qty::text FROM items WHERE id = 1"),
        vec!["10"]
    );
}

#[test]
fn a_role_that_may_not_disable_triggers_applies_with_deferred_foreign_keys() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    let role = format!("app_{}", uuid::Uuid::new_v4().simple());
    let admin = db.client();
    let dbname = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    admin
        .batch_execute(
            "a plain role owning the database",
            &format!(
                "CREATE ROLE {role} LOGIN NOSUPERUSER; ALTER DATABASE \"{dbname}\" OWNER TO {role}; \
                 ALTER SCHEMA public OWNER TO {role}"
            ),
        )
        .unwrap();
    // The same server and database, as that role (trust authentication in the test cluster;
    // with LITE2PG_TEST_URL the role may need a password, so the test says so and stops).
    let url = match db.url.split_once("://").and_then(|(s, rest)| {
        rest.split_once('@')
            .map(|(_, host)| format!("{s}://{role}@{host}"))
    }) {
        Some(u) => u,
        None => return,
    };
    if lite2pg::pg::connect(&url).is_err() {
        eprintln!("skipped: cannot connect as a new role without a password on this server");
        return;
    }
    let env = [("DATABASE_URL", url.as_str())];
    let file = f.path.to_str().unwrap();
    let (code, out, err) = run_bin(&["sync", file, "--once"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("deferred"), "{err}");
    app(&f.path)
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT OR REPLACE INTO items (id, sku, qty) VALUES (20, 'A', 1);
             BEGIN;
             INSERT INTO items (id, sku, qty, parent_id) VALUES (21, 'Z', 1, 4);
             INSERT INTO parent VALUES (4, 'four');
             COMMIT;",
        )
        .unwrap();
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_bin(&["verify", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    // An orphan SQLite let in stops this role's applier, with the reason, until its
    // parent arrives.
    app(&f.path)
        .execute_batch(
            "PRAGMA foreign_keys = OFF; INSERT INTO items (id, sku, qty, parent_id) VALUES (22, 'Y', 1, 5);",
        )
        .unwrap();
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("foreign key"), "{err}");
    app(&f.path)
        .execute("INSERT INTO parent VALUES (5, 'five')", [])
        .unwrap();
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_bin(&["status", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn rows_written_in_postgresql_reach_sqlite_without_its_foreign_key_actions_firing() {
    // Immediate (not deferred) foreign keys with ON DELETE CASCADE in SQLite, as Rails and
    // hand-written schemas declare them: a parent PostgreSQL changed is replaced in SQLite
    // before or after its new children arrive, and replacing it must not take its children.
    let f = sqlite(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE child (id INTEGER PRIMARY KEY,
             parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, v TEXT);
         INSERT INTO parent VALUES (1, 'one');
         INSERT INTO child VALUES (1, 1, 'a'), (2, 1, 'b');",
    );
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = lite2pg(&["cutover", path], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    db.client()
        .batch_execute(
            "the application on PostgreSQL",
            "INSERT INTO parent (id, name) VALUES (2, 'two');
             INSERT INTO child (id, parent_id, v) VALUES (3, 2, 'c');
             UPDATE parent SET name = 'ONE' WHERE id = 1;",
        )
        .unwrap();
    let (code, out, err) = sync_once(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let app = app(&f.path);
    let children: String = app
        .query_row(
            "SELECT group_concat(id || ':' || parent_id, ' ') FROM (SELECT * FROM child ORDER BY id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(children, "1:1 2:1 3:2");
    let parent: String = app
        .query_row("SELECT name FROM parent WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(parent, "ONE");
    let (code, out, err) = lite2pg(&["rollback", path], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = verify(&f.path, &db);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn status_speaks_prometheus_for_alerting_on_lag() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    app(&f.path)
        .execute("UPDATE items SET qty = 9 WHERE id = 1", [])
        .unwrap();
    let file = f.path.to_str().unwrap();
    let (code, out, err) = lite2pg(&["status", file, "--format", "prometheus"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "# TYPE lite2pg_sync_pending_changes gauge",
        "lite2pg_sync_pending_changes{schema=\"public\"} 1",
        "lite2pg_sync_primary{schema=\"public\",side=\"sqlite\"} 1",
        "lite2pg_sync_primary{schema=\"public\",side=\"postgresql\"} 0",
        "lite2pg_sync_error{schema=\"public\"} 0",
        "lite2pg_sync_switch_in_flight{schema=\"public\"} 0",
        "# TYPE lite2pg_sync_applied_rows_total counter",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("lite2pg_sync_lag_seconds{schema=\"public\"} ")),
        "{out}"
    );
}

#[test]
fn sync_logs_a_summary_per_interval_and_each_batch_only_when_verbose() {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    assert_eq!(sync_once(&f.path, &db).0, 0);
    let file = f.path.to_str().unwrap();
    let a = app(&f.path);
    a.execute("UPDATE items SET qty = 5 WHERE id = 1", [])
        .unwrap();
    let (code, out, err) = lite2pg(&["sync", file, "--once"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("1 change(s) applied in the last"), "{err}");
    assert!(!err.contains("applied 1 change(s) up to"), "{err}");
    a.execute("UPDATE items SET qty = 6 WHERE id = 1", [])
        .unwrap();
    let (code, out, err) = lite2pg(&["sync", file, "--once", "--verbose"], &db);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("applied 1 change(s) up to"), "{err}");
    assert!(err.contains("lag p50"), "{err}");
}
