//! A clause PostgreSQL refuses never costs its table: a default of the wrong type, a
//! generation expression PostgreSQL cannot run and a CHECK it cannot evaluate are each
//! left out alone (or cast, where the cast runs), with a finding and exit 1, and every
//! table and row arrives. A table PostgreSQL refuses bare is left out with what needs it,
//! and no later phase stumbles over it.

mod common;

use common::{run_bin, sqlite, TestDb};

#[test]
fn each_refused_clause_is_left_out_alone_and_every_table_and_row_arrives() {
    let f = sqlite(
        r#"CREATE TABLE w (
               id INTEGER PRIMARY KEY,
               a TEXT,
               n INTEGER GENERATED ALWAYS AS (abs(a)) VIRTUAL,
               created TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
               starts TIMESTAMP DEFAULT ('2024-01-01' || ' 00:00:00'),
               c INTEGER CHECK (length(a) < 'x'),
               k TEXT GENERATED ALWAYS AS (hex('ab')) VIRTUAL,
               CHECK (a <> 5));
           CREATE TABLE e (id INTEGER PRIMARY KEY, k INTEGER DEFAULT (lower('X')));
           INSERT INTO w (id, a, c) VALUES (1, '-3', 1), (2, 'b', 2);
           CREATE INDEX w_n ON w (n);"#,
    );
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    let (code, out, err) = run_bin(&["migrate", path, "--to", &db.url, "--quiet"], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    for why in [
        "generation expression of column \"w\".\"n\": PostgreSQL refused it, so the column is a plain one holding the values SQLite computed",
        "function abs(text) does not exist",
        "CHECK (a <> 5) on table \"w\": PostgreSQL refused it, so it is not enforced",
        "default of column \"e\".\"k\": PostgreSQL refused it, so the column has no default",
    ] {
        assert!(out.contains(why), "{why}\n{out}");
    }
    // SQLite's computed values arrived in the plain column, and verify agrees.
    assert_eq!(
        db.strings("SELECT id || ':' || a || ':' || n FROM w ORDER BY id"),
        ["1:-3:3", "2:b:0"]
    );
    // A generation expression naming no column is the constant SQLite computes: PostgreSQL
    // keeps generating it.
    assert_eq!(
        db.strings(
            "SELECT attgenerated::text || ':' || (SELECT string_agg(k, ',') FROM w) \
             FROM pg_attribute WHERE attrelid = 'w'::regclass AND attname = 'k'"
        ),
        ["s:6162,6162"]
    );
    // The strftime default is a timestamp of its own; the text one runs cast.
    db.client()
        .batch_execute(
            "the application writes",
            "INSERT INTO w (id, a) VALUES (3, 'z')",
        )
        .unwrap();
    assert_eq!(
        db.strings(
            "SELECT (created > now() AT TIME ZONE 'UTC' - interval '1 hour')::text || ' ' || starts \
             FROM w WHERE id = 3"
        ),
        ["true 2024-01-01 00:00:00"]
    );
    assert_eq!(
        db.strings(
            "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef \
             WHERE adrelid = 'w'::regclass AND adnum = 4"
        ),
        ["date_trunc('milliseconds'::text, (now() AT TIME ZONE 'UTC'::text))"]
    );
    db.client()
        .batch_execute("tidy", "DELETE FROM w WHERE id = 3")
        .unwrap();
    let (code, out, err) = run_bin(&["verify", path, "--to", &db.url], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn a_table_refused_bare_is_left_out_with_what_needs_it_and_the_run_goes_on() {
    // More columns than a PostgreSQL table holds.
    let cols: Vec<String> = (0..1601).map(|i| format!("c{i} INTEGER")).collect();
    let f = sqlite(&format!(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, {});
         CREATE INDEX wide_c1 ON wide (c1);
         CREATE TABLE child (id INTEGER PRIMARY KEY, wide_id INTEGER REFERENCES wide (id));
         INSERT INTO wide (id, c0) VALUES (1, 1);
         INSERT INTO child VALUES (1, 1), (2, 1);",
        cols.join(", ")
    ));
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    let (code, out, err) = run_bin(&["migrate", path, "--to", &db.url, "--quiet"], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("tables can have at most 1600 columns"),
        "{out}"
    );
    assert!(out.contains("left out with table \"wide\""), "{out}");
    assert_eq!(db.strings("SELECT count(*)::text FROM child"), ["2"]);
    assert_eq!(
        db.strings("SELECT count(*)::text FROM pg_tables WHERE tablename = 'wide'"),
        ["0"]
    );
    let (code, out, err) = run_bin(&["verify", path, "--to", &db.url], &[]);
    assert!(
        code == 0 || code == 1,
        "never a crash: {code}\n{out}\n{err}"
    );
    assert!(!out.contains("does not exist"), "{out}");
    assert!(
        out.contains(
            "wide: not migrated: PostgreSQL refused it, so it is left out: tables can have at \
             most 1600 columns"
        ),
        "{out}"
    );
}

#[test]
fn a_refused_view_is_reported_with_its_sqlite_text_and_postgresql_s_reason() {
    let f = sqlite(
        "CREATE TABLE w (id INTEGER PRIMARY KEY, a TEXT);
         CREATE VIEW odd AS SELECT id FROM w WHERE a = 5;
         CREATE VIEW odder AS SELECT id FROM odd;",
    );
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    let (code, out, err) = run_bin(&["plan", path, "--to", &db.url, "--format", "json"], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let finding = |object: &str| {
        plan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["object"] == object)
            .cloned()
            .unwrap_or_else(|| panic!("no finding for {object}: {out}"))
    };
    let odd = finding("view \"odd\"");
    assert_eq!(odd["severity"], "error");
    assert_eq!(
        odd["sql"],
        "CREATE VIEW odd AS SELECT id FROM w WHERE a = 5"
    );
    let message = odd["message"].as_str().unwrap();
    assert!(
        message.contains("operator does not exist: text = integer"),
        "{message}"
    );
    assert!(message.contains("translated as: CREATE VIEW"), "{message}");
    let odder = finding("view \"odder\"");
    assert_eq!(odder["code"], "postgres.refused_with_table");
    assert!(
        odder["message"]
            .as_str()
            .unwrap()
            .contains("left out with view \"odd\""),
        "{odder}"
    );
}
