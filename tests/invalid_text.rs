//! Text PostgreSQL cannot hold (a NUL byte, invalid UTF-8): rejected by default; with
//! `--invalid-text bytea` the column carries every value's bytes; with `--invalid-text
//! clean` every row arrives with NUL removed and invalid bytes replaced, each such value
//! listed in the reject file as carried. Every way verifies.

mod common;

use common::{run_bin, sqlite, Fixture, TestDb};

fn notes() -> Fixture {
    sqlite(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, tag TEXT);
         INSERT INTO notes VALUES (1, 'fine', 'a'),
             (2, CAST(X'6E756C0078' AS TEXT), 'b'),
             (3, CAST(X'C328' AS TEXT), 'c');",
    )
}

fn migrate(f: &Fixture, db: &TestDb, extra: &[&str]) -> (i32, String, String) {
    let rejects = f.path.with_extension("rejects.jsonl");
    let mut args = vec![
        "migrate",
        f.path.to_str().unwrap(),
        "--to",
        &db.url,
        "--quiet",
        "--reject-file",
        rejects.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run_bin(&args, &[]);
    let listed = std::fs::read_to_string(&rejects).unwrap_or_default();
    (code, format!("{out}\n{err}"), listed)
}

#[test]
fn text_postgresql_cannot_hold_is_rejected_by_default() {
    let f = notes();
    let db = TestDb::new();
    let (code, out, listed) = migrate(&f, &db, &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(db.strings("SELECT id::text FROM notes"), ["1"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("\"carried\":false"), "{listed}");
}

#[test]
fn invalid_text_bytea_carries_every_value_s_bytes() {
    let f = notes();
    let db = TestDb::new();
    let (code, out, listed) = migrate(&f, &db, &["--invalid-text", "bytea"]);
    assert_eq!(code, 0, "{out}");
    assert!(listed.is_empty(), "{listed}");
    assert_eq!(
        db.strings("SELECT id || ':' || encode(body, 'hex') || ':' || tag FROM notes ORDER BY id"),
        ["1:66696e65:a", "2:6e756c0078:b", "3:c328:c"]
    );
    let (code, out, err) = run_bin(&["verify", f.path.to_str().unwrap(), "--to", &db.url], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn invalid_text_clean_carries_every_row_and_lists_each_cleaned_value() {
    let f = notes();
    let db = TestDb::new();
    let (code, out, listed) = migrate(&f, &db, &["--invalid-text", "clean"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        db.strings("SELECT id || ':' || body FROM notes ORDER BY id"),
        ["1:fine", "2:nulx", "3:\u{fffd}("]
    );
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    for l in &lines {
        assert!(
            l.contains("\"carried\":true") && l.contains("\"column\":\"body\""),
            "{l}"
        );
    }
    assert!(
        lines[0].contains("\"id\":2") && lines[1].contains("\"id\":3"),
        "{listed}"
    );
    let (code, out, err) = run_bin(&["verify", f.path.to_str().unwrap(), "--to", &db.url], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
}
