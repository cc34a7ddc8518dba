//! `lite2pg verify` against a real PostgreSQL: an untouched migration verifies; each kind
//! of tampering is found and named exactly (key, column, source and target values), and
//! nothing else is; reports in every form; exit codes.

mod common;

use common::{migrate, migrate_request, run_bin, sqlite, Fixture, TestDb};
use serde_json::{json, Value};

/// A keyed table with every value kind the tampering touches, a composite-key table, and a
/// table without a key (compared as a multiset).
fn fixture() -> Fixture {
    let f = sqlite(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL, seen_at TIMESTAMP, photo BLOB,
                             note TEXT, tags JSON, amount NUMERIC(10,2));
         CREATE TABLE pairs (a TEXT, b INTEGER, w REAL, PRIMARY KEY (a, b)) WITHOUT ROWID;
         CREATE TABLE log (level TEXT, message TEXT);",
    );
    let c = rusqlite::Connection::open(&f.path).unwrap();
    c.execute_batch("BEGIN").unwrap();
    for i in 1..=3000i64 {
        c.execute(
            "INSERT INTO items VALUES (?1, ?1 / 7.0, printf('2024-01-%02d 10:00:00.%06d', ?1 % 28 + 1, ?1),
                                       randomblob(8), CASE WHEN ?1 % 3 = 0 THEN NULL ELSE 'n' || ?1 END,
                                       json_object('k', ?1, 'v', json_array(1, 2.5)), ?1 * 1.25)",
            [i],
        )
        .unwrap();
        if i % 3 == 0 {
            c.execute(
                "INSERT INTO pairs VALUES (printf('k%03d', ?1 % 101), ?1, ?1 / 3.0)",
                [i],
            )
            .unwrap();
            c.execute("INSERT INTO log VALUES ('info', 'same message')", [])
                .unwrap();
        }
    }
    c.execute_batch("COMMIT").unwrap();
    f
}

fn migrated() -> (Fixture, TestDb) {
    let f = fixture();
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    assert_eq!(report.exit_code, 0, "{:?}", report.mismatches);
    (f, db)
}

fn verify(f: &Fixture, db: &TestDb, extra: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let mut args = vec![
        "verify",
        f.path.to_str().unwrap(),
        "--to",
        db.url.as_str(),
        "--report",
        json_path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run_bin(&args, &[]);
    let report = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    (code, report, format!("{out}\n{err}"))
}

/// The report's entry for one table, by SQLite or PostgreSQL name.
fn table(report: &Value, name: &str) -> Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name || t["target_name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
        .clone()
}

/// Every listed mismatch as "table kind key [columns]", sorted.
fn mismatches(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for t in report["tables"].as_array().unwrap() {
        for m in t["mismatches"].as_array().unwrap() {
            let cols: Vec<String> = m["columns"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| c["column"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            out.push(format!(
                "{} {} {} {:?}",
                t["target_name"].as_str().unwrap(),
                m["kind"].as_str().unwrap(),
                m["key"],
                cols
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn an_untouched_migration_verifies_with_exit_0_and_a_complete_json_report() {
    let (f, db) = migrated();
    let (code, r, out) = verify(&f, &db, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["ok"], true);
    for field in ["source", "target", "started_at", "duration_s"] {
        assert!(!r[field].is_null(), "{field} in {r}");
    }
    let tables = r["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3);
    for t in tables {
        assert_eq!(t["status"], "match", "{t}");
        assert_eq!(t["source_rows"], t["target_rows"]);
        assert!(t["ranges_compared"].as_u64().unwrap() >= 1);
        assert_eq!(t["mismatches"], json!([]));
    }
    assert_eq!(r["schema_findings"], json!([]));
    assert!(out.contains("VERIFIED"), "{out}");
    // The plan the migration applied was read back, not made again.
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("compared with the plan applied by run"),
        "{notes}"
    );
}

#[test]
fn each_tampered_value_and_row_is_named_exactly_and_nothing_else() {
    let (f, db) = migrated();
    // One double by its last bit (computed here: SQL has no nextafter).
    let price: f64 = db
        .client()
        .query("read", "SELECT price FROM items WHERE id = 10", &[])
        .unwrap()[0]
        .get(0);
    let next = f64::from_bits(price.to_bits() + 1);
    db.client()
        .query(
            "tamper",
            "UPDATE items SET price = $1 WHERE id = 10",
            &[&next],
        )
        .unwrap();
    db.client()
        .batch_execute(
            "tamper",
            // One timestamp by a microsecond, one byte of a blob, one NULL to empty text; a
            // row deleted, two inserted (beyond either end of the keys); a keyless row doubled.
            "UPDATE items SET seen_at = seen_at + interval '1 microsecond' WHERE id = 20;
             UPDATE items SET photo = set_byte(photo, 3, get_byte(photo, 3) # 1) WHERE id = 30;
             UPDATE items SET note = '' WHERE id = 42;
             DELETE FROM items WHERE id = 50;
             INSERT INTO items (id, price) VALUES (99999, 1.5), (-5, 2.5);
             DELETE FROM pairs WHERE a = 'k006' AND b = 6;
             INSERT INTO log (level, message) SELECT level, message FROM log LIMIT 1;",
        )
        .unwrap();
    let (code, r2, out) = verify(&f, &db, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(r2["ok"], false);
    let extra_log_key = table(&r2, "log")["mismatches"][0]["key"].clone();
    assert_eq!(
        mismatches(&r2),
        vec![
            format!("items different {} [\"price\"]", json!({"id": 10})),
            format!("items different {} [\"seen_at\"]", json!({"id": 20})),
            format!("items different {} [\"photo\"]", json!({"id": 30})),
            format!("items different {} [\"note\"]", json!({"id": 42})),
            format!("items extra_in_target {} []", json!({"id": 99999})),
            format!("items extra_in_target {} []", json!({"id": -5})),
            format!("items missing_in_target {} []", json!({"id": 50})),
            format!("log extra_in_target {extra_log_key} []"),
            format!(
                "pairs missing_in_target {} []",
                json!({"a": "k006", "b": 6})
            ),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    assert!(
        extra_log_key["_lite2pg_rowid"].as_i64().unwrap() > 1000,
        "{extra_log_key}"
    );
    // Source and target values are shown for the differing columns.
    let items = table(&r2, "items");
    let note = items["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == json!({"id": 42}))
        .unwrap();
    assert_eq!(note["columns"][0]["source"], Value::Null);
    assert_eq!(note["columns"][0]["target"], "");
    let ts = items["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == json!({"id": 20}))
        .unwrap();
    assert_eq!(ts["columns"][0]["source"], "2024-01-21 10:00:00.000020");
    assert_eq!(ts["columns"][0]["target"], "2024-01-21 10:00:00.000021");
    assert_eq!(items["mismatch_count"], 7);
    // Only the differing key ranges were read again: a few of about 24.
    let differing = items["ranges_differing"].as_u64().unwrap();
    assert!((1..=7).contains(&differing), "{differing} ranges differ");
    assert!(out.contains("DIFFERENCES FOUND"), "{out}");
}

#[test]
fn negative_zero_and_zero_differ_and_json_compares_as_values() {
    let f = sqlite(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL, doc JSON);
         INSERT INTO t VALUES (1, 0.0, '{\"b\": 1, \"a\": [1.0, 2]}');
         INSERT INTO t VALUES (2, 1.0, '{\"a\": 1}');",
    );
    let db = TestDb::new();
    assert_eq!(migrate(&migrate_request(&f, &db)).exit_code, 0);
    // jsonb already reordered the keys: that is the same value.
    let (code, _, out) = verify(&f, &db, &[]);
    assert_eq!(code, 0, "{out}");
    db.client()
        .batch_execute(
            "tamper",
            "UPDATE t SET x = '-0'::float8 WHERE id = 1; UPDATE t SET doc = '{\"a\": \"1\"}' WHERE id = 2",
        )
        .unwrap();
    let (code, r, out) = verify(&f, &db, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        mismatches(&r),
        vec![
            format!("t different {} [\"x\"]", json!({"id": 1})),
            format!("t different {} [\"doc\"]", json!({"id": 2})),
        ]
    );
}

#[test]
fn mismatch_lists_are_capped_with_the_true_count_kept() {
    let (f, db) = migrated();
    db.client()
        .batch_execute("tamper", "UPDATE items SET note = 'changed' WHERE id <= 40")
        .unwrap();
    let (code, r, _) = verify(&f, &db, &["--max-mismatches", "5", "--tables", "items"]);
    assert_eq!(code, 1);
    let items = &table(&r, "items");
    assert_eq!(items["mismatch_count"], 40);
    assert_eq!(items["mismatches"].as_array().unwrap().len(), 5);
    assert_eq!(items["mismatches_truncated"], true);
    // The other tables were left out, and say so.
    let mut skipped: Vec<&str> = r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "skipped")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    skipped.sort();
    assert_eq!(skipped, vec!["log", "pairs"]);
}

#[test]
fn a_sample_compares_a_fraction_of_rows_on_both_sides_alike() {
    let (f, db) = migrated();
    let (code, r, out) = verify(&f, &db, &["--sample", "0.25", "--tables", "items"]);
    assert_eq!(code, 0, "{out}");
    let items = table(&r, "items");
    let n = items["source_rows"].as_u64().unwrap();
    assert!(
        (500..1000).contains(&n),
        "about a quarter of 3000 rows: {n}"
    );
    assert_eq!(items["source_rows"], items["target_rows"]);
}

#[test]
fn a_dropped_table_and_a_changed_column_type_are_reported() {
    let (f, db) = migrated();
    db.client()
        .batch_execute(
            "tamper",
            "DROP TABLE pairs; ALTER TABLE items ALTER COLUMN note TYPE varchar(50)",
        )
        .unwrap();
    let (code, r, out) = verify(&f, &db, &[]);
    assert_eq!(code, 1, "{out}");
    let pairs = table(&r, "pairs");
    assert_eq!(pairs["status"], "missing_in_target");
    let findings: Vec<String> = r["schema_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}: {} / {}",
                s["table"], s["object"], s["expected"], s["found"]
            )
        })
        .collect();
    assert!(
        findings.contains(
            &"\"items\" \"column note type\": \"text\" / \"character varying(50)\"".to_string()
        ),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|s| s.contains("pairs") && s.contains("missing")),
        "{findings:?}"
    );
    // Values still compare equal through the new type.
    let items = table(&r, "items");
    assert_eq!(items["status"], "match");
}

#[test]
fn reports_are_written_as_markdown_and_self_contained_html() {
    let (f, db) = migrated();
    db.client()
        .batch_execute(
            "tamper",
            "UPDATE items SET note = '<script>x</script>' WHERE id = 1",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("r.md");
    let html = dir.path().join("r.html");
    let (code, _, out) = verify(
        &f,
        &db,
        &[
            "--report",
            md.to_str().unwrap(),
            "--report",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{out}");
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("# lite2pg verify: DIFFERENCES FOUND"), "{md}");
    assert!(md.contains("| `{\"id\":1}` | different | `note` |"), "{md}");
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("id=\"verdict\""));
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(!html.contains("<script>"), "no script, escaped values");
}

#[test]
fn usage_and_connection_errors_exit_2_and_3() {
    let f = fixture();
    let (code, _, err) = run_bin(&["verify", f.path.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "no target: {err}");
    assert!(err.contains("verify needs a target"), "{err}");
    let (code, _, err) = run_bin(
        &[
            "verify",
            f.path.to_str().unwrap(),
            "--to",
            "postgres://u:secret@127.0.0.1:1/db",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(!err.contains("secret"), "{err}");
    let db = TestDb::new();
    let (code, _, err) = run_bin(
        &[
            "verify",
            f.path.to_str().unwrap(),
            "--to",
            db.url.as_str(),
            "--sample",
            "0",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_target_lite2pg_did_not_migrate_is_planned_afresh_and_compared() {
    let f = sqlite(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    let db = TestDb::new();
    // The schema only, applied by hand from `plan --format sql`; one row copied by hand.
    common::plan_and_apply(&f, &db, &lite2pg::plan::PlanOptions::default());
    db.client()
        .batch_execute("copy by hand", "INSERT INTO t VALUES (1, 'a')")
        .unwrap();
    let (code, r, out) = verify(&f, &db, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        mismatches(&r),
        vec![format!("t missing_in_target {} []", json!({"id": 2}))]
    );
    assert!(
        r["notes"].to_string().contains("no lite2pg run"),
        "{}",
        r["notes"]
    );
}

#[test]
fn a_text_primary_key_is_not_null_in_postgresql_and_that_is_no_schema_difference() {
    // SQLite lets a rowid table's TEXT PRIMARY KEY hold NULL, so the plan keeps the
    // column nullable; PostgreSQL's primary key makes it NOT NULL, as intended.
    let f = sqlite(
        "CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT);
         INSERT INTO codes VALUES ('a', 'A'), ('b', NULL);",
    );
    let db = TestDb::new();
    assert_eq!(migrate(&migrate_request(&f, &db)).exit_code, 0);
    let (code, r, out) = verify(&f, &db, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["schema_findings"], json!([]));
}

#[test]
fn a_migration_hashes_sqlite_as_it_copies_and_its_verification_still_finds_each_change_in_postgresql(
) {
    let f = fixture();
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    // The run waits at the comparison while PostgreSQL's rows are changed under it.
    let (child, _err) = common::spawn_to_failpoint(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            db.url.as_str(),
            "--quiet",
            "--report",
            json_path.to_str().unwrap(),
        ],
        &[("LITE2PG_FAILPOINT", "verify.compare=sleep:1500")],
    );
    db.client()
        .batch_execute(
            "tamper",
            "UPDATE items SET amount = amount + 0.01 WHERE id = 7;
             DELETE FROM pairs WHERE a = 'k006' AND b = 6;
             INSERT INTO log (level, message) VALUES ('info', 'same message');",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("SQLite's side of 3 of 3 table(s) was hashed as the copy read it"),
        "{notes}"
    );
    let mut found = Vec::new();
    for t in r["mismatches"].as_array().unwrap() {
        assert_eq!(t["source_hashed_in_copy"], true, "{t}");
        for m in t["mismatches"].as_array().unwrap() {
            found.push(format!("{} {}", t["target_name"], m["kind"]));
        }
    }
    found.sort();
    assert_eq!(
        found,
        vec![
            "\"items\" \"different\"",
            "\"log\" \"extra_in_target\"",
            "\"pairs\" \"missing_in_target\"",
        ]
    );
    // `verify` on its own reads both sides and agrees.
    let (code, alone, out) = verify(&f, &db, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(table(&alone, "items")["source_hashed_in_copy"], false);
    assert_eq!(table(&alone, "items")["mismatch_count"], 1);
}
