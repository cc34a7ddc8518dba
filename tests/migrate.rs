//! `lite2pg migrate` against a real PostgreSQL: values byte-exact, rejects, identities,
//! orphans, refusals, reports, and consistent snapshots while the application writes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{migrate, migrate_request, sqlite, TestDb};
use lite2pg::migrate::{migrate_with_report, Mode};
use rusqlite::params;
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_value_kind_round_trips_byte_exact() {
    let f = sqlite("CREATE TABLE vals (id INTEGER PRIMARY KEY, d, i INTEGER, t TEXT, b BLOB);");
    let doubles = [
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
        f64::MIN_POSITIVE / 3.0,
        0.1 + 0.2,
        f64::MAX,
    ];
    let big_text: String = "héllo wörld 🦀 ".repeat(5 * 1024 * 1024 / 20);
    let big_blob: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        for (k, d) in doubles.iter().enumerate() {
            let i = [i64::MIN, i64::MAX, 0, -1, 1, 42, 7][k];
            let t: Option<&str> = match k {
                0 => Some(&big_text),
                1 => Some("𝄞 four-byte UTF-8 \u{10FFFF}"),
                2 => Some(""),
                _ => None,
            };
            let b: Option<&[u8]> = match k {
                0 => Some(&big_blob),
                1 => Some(&[]),
                _ => None,
            };
            c.execute(
                "INSERT INTO vals VALUES (?1, ?2, ?3, ?4, ?5)",
                params![k as i64 + 1, d, i, t, b],
            )
            .unwrap();
        }
    }
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    assert!(report.ok, "{report:#?}");
    let got = db.strings(
        "SELECT concat_ws('|', id, encode(float8send(d), 'hex'), i, \
         coalesce(encode(sha256(convert_to(t, 'UTF8')), 'hex'), 'null'), \
         coalesce(encode(sha256(b), 'hex'), 'null')) FROM vals ORDER BY id",
    );
    let want: Vec<String> = doubles
        .iter()
        .enumerate()
        .map(|(k, d)| {
            let i = [i64::MIN, i64::MAX, 0, -1, 1, 42, 7][k];
            let t = match k {
                0 => sha(big_text.as_bytes()),
                1 => sha("𝄞 four-byte UTF-8 \u{10FFFF}".as_bytes()),
                2 => sha(b""),
                _ => "null".into(),
            };
            let b = match k {
                0 => sha(&big_blob),
                1 => sha(b""),
                _ => "null".into(),
            };
            format!("{}|{:016x}|{i}|{t}|{b}", k + 1, d.to_bits())
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn nul_bytes_and_invalid_utf8_go_to_the_reject_file_with_reasons() {
    let f = sqlite("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);");
    {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        c.execute("INSERT INTO notes VALUES (1, 'fine')", [])
            .unwrap();
        c.execute("INSERT INTO notes VALUES (2, 'a' || char(0) || 'b')", [])
            .unwrap();
        c.execute("INSERT INTO notes VALUES (3, CAST(X'FF61' AS TEXT))", [])
            .unwrap();
    }
    let db = TestDb::new();
    let req = migrate_request(&f, &db);
    let report = migrate(&req);
    assert_eq!(report.exit_code, 1);
    assert_eq!(report.rows_rejected, 2);
    assert_eq!(db.strings("SELECT body FROM notes"), vec!["fine"]);
    let lines = std::fs::read_to_string(req.reject_file.as_ref().unwrap()).unwrap();
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{lines}");
    assert_eq!(rows[0]["table"], "notes");
    assert_eq!(rows[0]["key"], serde_json::json!({"id": 2}));
    assert_eq!(rows[0]["column"], "body");
    assert!(rows[0]["reason"].as_str().unwrap().contains("NUL"));
    assert_eq!(rows[0]["value"], "610062");
    assert_eq!(rows[1]["key"], serde_json::json!({"id": 3}));
    assert!(rows[1]["reason"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(rows[1]["value"], "ff61");
    // Verification finds exactly the rejected rows missing, and says so.
    assert_eq!(
        report.tables[0].verification,
        "match except the 2 rejected row(s)"
    );
    let missing: Vec<String> = report.mismatches[0]
        .mismatches
        .iter()
        .map(|m| format!("{:?} {}", m.kind, m.key))
        .collect();
    assert_eq!(
        missing,
        vec!["MissingInTarget {\"id\":2}", "MissingInTarget {\"id\":3}"]
    );
}

#[test]
fn identities_continue_past_sqlite_sequence_and_accept_new_rows() {
    let f = sqlite(
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
         INSERT INTO users (name) VALUES ('a'), ('b'), ('c');
         INSERT INTO users (id, name) VALUES (40, 'gone');
         DELETE FROM users WHERE id = 40;
         CREATE TABLE log (msg TEXT);
         INSERT INTO log VALUES ('x'), ('y');",
    );
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    assert!(report.ok, "{report:#?}");
    assert_eq!(
        db.strings("INSERT INTO users (name) VALUES ('new') RETURNING id::text"),
        vec!["41"]
    );
    assert_eq!(
        db.strings("INSERT INTO log (msg) VALUES ('z') RETURNING _lite2pg_rowid::text"),
        vec!["3"]
    );
}

#[test]
fn orphan_rows_leave_the_foreign_key_not_valid_and_are_reported() {
    let f = sqlite(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
         INSERT INTO parent VALUES (1);
         INSERT INTO child VALUES (10, 1), (11, 2), (12, NULL), (13, 3);",
    );
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    assert_eq!(report.exit_code, 1);
    let fk = &report.foreign_keys[0];
    assert_eq!(fk.status, "not_valid");
    assert_eq!(fk.orphans, 2);
    // Said once, in the foreign-key report, not again by the verification's schema check.
    assert!(
        report.schema_findings.is_empty(),
        "{:?}",
        report.schema_findings
    );
    assert_eq!(
        fk.sample_keys,
        vec![serde_json::json!({"id": 11}), serde_json::json!({"id": 13})]
    );
    // The rows are all there, and the constraint exists and guards new rows.
    assert_eq!(db.strings("SELECT count(*)::text FROM child"), vec!["4"]);
    assert_eq!(
        db.strings("SELECT convalidated::text FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'f'"),
        vec!["false"]
    );
    assert!(db
        .client()
        .batch_execute("orphan insert", "INSERT INTO child VALUES (20, 99)")
        .is_err());
}

#[test]
fn existing_tables_are_refused_unless_replace() {
    let f =
        sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');");
    let db = TestDb::new();
    db.client()
        .batch_execute("pre-existing table", "CREATE TABLE t (x int)")
        .unwrap();
    let req = migrate_request(&f, &db);
    let err = migrate_with_report(&req).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("already holds \"t\""), "{err}");
    assert!(err.to_string().contains("--replace"), "{err}");
    let report = migrate(&lite2pg::migrate::MigrateRequest {
        replace: true,
        ..req
    });
    assert!(report.ok, "{report:#?}");
    assert_eq!(db.strings("SELECT v FROM t"), vec!["a"]);
}

#[test]
fn schema_only_then_data_only_and_table_filters() {
    let f = sqlite(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, 'x');
         CREATE TABLE b (id INTEGER PRIMARY KEY); INSERT INTO b VALUES (1), (2);",
    );
    let db = TestDb::new();
    let base = migrate_request(&f, &db);
    let r = migrate(&lite2pg::migrate::MigrateRequest {
        mode: Mode::SchemaOnly,
        ..base.clone()
    });
    assert!(r.ok, "{r:#?}");
    assert_eq!(db.strings("SELECT count(*)::text FROM a"), vec!["0"]);
    let r = migrate(&lite2pg::migrate::MigrateRequest {
        mode: Mode::DataOnly,
        tables: vec!["b*".into()],
        ..base
    });
    assert!(r.ok, "{r:#?}");
    assert_eq!(r.tables.len(), 1);
    assert_eq!(db.strings("SELECT count(*)::text FROM b"), vec!["2"]);
    assert_eq!(db.strings("SELECT count(*)::text FROM a"), vec!["0"]);
}

#[test]
fn reports_are_written_as_json_and_markdown() {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    let mut req = migrate_request(&f, &db);
    req.reports = vec![json.clone(), md.clone()];
    migrate(&req);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["tables"][0]["rows_written"], 1);
    assert_eq!(j["tables"][0]["verification"], "match");
    assert!(!j["target"].as_str().unwrap().contains("password"));
    let m = std::fs::read_to_string(&md).unwrap();
    assert!(
        m.starts_with("# lite2pg migrate: MIGRATED AND VERIFIED"),
        "{m}"
    );
    // The run is recorded, with every object it created.
    assert_eq!(
        db.strings("SELECT status FROM lite2pg.runs"),
        vec!["done".to_string()]
    );
    assert!(db
        .strings("SELECT object FROM lite2pg.objects ORDER BY seq")
        .contains(&"table \"t\"".to_string()));
}

fn writer_while_migrating(wal: bool) {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);");
    {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        if wal {
            c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .unwrap();
        }
        c.execute_batch("BEGIN").unwrap();
        for i in 1..=100_000i64 {
            c.execute("INSERT INTO t VALUES (?1, 'row ' || ?1)", [i])
                .unwrap();
        }
        c.execute_batch("COMMIT").unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let path = f.path.clone();
    let flag = stop.clone();
    // The application: one small transaction after another, timing each commit.
    let writer = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.busy_timeout(Duration::from_secs(30)).unwrap();
        let mut worst = Duration::ZERO;
        let mut id = 100_001i64;
        while !flag.load(Ordering::SeqCst) {
            let t = Instant::now();
            c.execute("INSERT INTO t VALUES (?1, 'late')", [id])
                .unwrap();
            worst = worst.max(t.elapsed());
            id += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        (worst, id - 1)
    });
    std::thread::sleep(Duration::from_millis(50));
    let db = TestDb::new();
    let mut req = migrate_request(&f, &db);
    req.verify = false;
    let report = migrate(&req);
    stop.store(true, Ordering::SeqCst);
    let (worst, last) = writer.join().unwrap();
    eprintln!("fault: the source written during the copy (wal: {wal}) -> the writer waited at most {worst:?}");
    assert!(report.ok, "{report:#?}");
    // One snapshot: the copied ids are exactly 1..=k for some k, no holes.
    let got = db.strings("SELECT count(*)::text || ' ' || max(id)::text FROM t");
    let parts: Vec<i64> = got[0].split(' ').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts[0], parts[1], "a hole in the copied ids: {got:?}");
    assert!(parts[0] >= 100_000 && parts[0] <= last);
    assert!(
        worst < Duration::from_secs(2),
        "the application's writer waited {worst:?}"
    );
}

#[test]
fn a_writer_on_a_wal_database_is_not_blocked_and_the_copy_is_one_snapshot() {
    writer_while_migrating(true);
}

#[test]
fn a_writer_on_a_rollback_journal_database_waits_only_for_the_snapshot_copy() {
    writer_while_migrating(false);
}

#[test]
fn rows_postgresql_refuses_are_found_one_by_one_and_the_rest_is_written() {
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);");
    {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        for i in 1..=1000i64 {
            let v = if i == 137 || i == 901 { "bad" } else { "good" };
            c.execute("INSERT INTO t VALUES (?1, ?2)", params![i, v])
                .unwrap();
        }
    }
    let db = TestDb::new();
    let base = migrate_request(&f, &db);
    migrate(&lite2pg::migrate::MigrateRequest {
        mode: Mode::SchemaOnly,
        ..base.clone()
    });
    // A rule the source never had: PostgreSQL refuses two rows the encoder accepts.
    db.client()
        .batch_execute(
            "extra rule",
            "ALTER TABLE t ADD CONSTRAINT no_bad CHECK (v <> 'bad')",
        )
        .unwrap();
    let report = migrate(&lite2pg::migrate::MigrateRequest {
        mode: Mode::DataOnly,
        ..base.clone()
    });
    assert_eq!(report.rows_rejected, 2, "{report:#?}");
    assert_eq!(db.strings("SELECT count(*)::text FROM t"), vec!["998"]);
    let lines = std::fs::read_to_string(base.reject_file.unwrap()).unwrap();
    assert!(
        lines.contains("{\"id\":137}") && lines.contains("{\"id\":901}"),
        "{lines}"
    );
    assert!(lines.contains("no_bad"), "{lines}");
}
