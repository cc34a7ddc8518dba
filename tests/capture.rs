//! SQLite-side change capture (the first part of issue 5): armed triggers record the key of
//! every row an application changes — from its own connection, with plain SQL — including
//! key changes, composite text keys and rowid-keyed tables; disarming leaves nothing behind.

mod common;

use lite2pg::capture::sqlite_log::{
    arm, disarm, high_water, lost_after, read_changes, CaptureTable, Op,
};
use rusqlite::types::Value;

fn tables() -> Vec<CaptureTable> {
    vec![
        CaptureTable {
            name: "items".into(),
            key: vec!["id".into()],
            uniques: vec![],
        },
        CaptureTable {
            name: "pairs".into(),
            key: vec!["a".into(), "b".into()],
            uniques: vec![],
        },
        CaptureTable {
            name: "loose".into(),
            key: vec!["rowid".into()],
            uniques: vec![],
        },
    ]
}

fn summary(c: &lite2pg::capture::sqlite_log::Change) -> String {
    let k = |k: &Option<Vec<Value>>| match k {
        None => "-".to_string(),
        Some(v) => format!("{v:?}"),
    };
    format!("{} {:?} {} {}", c.table, c.op, k(&c.old_key), k(&c.new_key))
}

#[test]
fn every_change_an_application_makes_is_recorded_by_key_and_disarming_leaves_nothing() {
    let f = common::sqlite(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT UNIQUE, qty INTEGER);
         CREATE TABLE pairs (a TEXT, b INTEGER, v REAL, PRIMARY KEY (a, b)) WITHOUT ROWID;
         CREATE TABLE loose (x, y);
         INSERT INTO items VALUES (1, 'A', 1), (2, 'B', 2);",
    );
    let mut lite = rusqlite::Connection::open(&f.path).unwrap();
    let armed_at = arm(&mut lite, &tables()).unwrap();
    assert_eq!(armed_at, 0);

    // The application, on a connection of its own, with plain SQL.
    let app = rusqlite::Connection::open(&f.path).unwrap();
    app.execute_batch(
        "INSERT INTO items VALUES (3, 'C', 3);
         UPDATE items SET qty = 30 WHERE id = 3;
         UPDATE items SET id = 33 WHERE id = 3;
         DELETE FROM items WHERE id = 2;
         INSERT INTO pairs VALUES ('it''s, odd', 7, 0.5);
         UPDATE pairs SET a = 'even' WHERE b = 7;
         INSERT INTO loose VALUES (1, 'x');
         DELETE FROM loose;",
    )
    .unwrap();
    let changes = read_changes(&lite, 0, 100).unwrap();
    let got: Vec<String> = changes.iter().map(summary).collect();
    assert_eq!(
        got,
        vec![
            "items Insert - [Integer(3)]",
            "items Update [Integer(3)] [Integer(3)]",
            "items Update [Integer(3)] [Integer(33)]",
            "items Delete [Integer(2)] -",
            "pairs Insert - [Text(\"it's, odd\"), Integer(7)]",
            "pairs Update [Text(\"it's, odd\"), Integer(7)] [Text(\"even\"), Integer(7)]",
            "loose Insert - [Integer(1)]",
            "loose Delete [Integer(1)] -",
        ]
    );
    assert_eq!(changes[0].op, Op::Insert);
    assert_eq!(high_water(&lite).unwrap(), changes.last().unwrap().seq);
    // Reading on from a position returns only what came after it.
    assert_eq!(read_changes(&lite, changes[5].seq, 100).unwrap().len(), 2);

    // INSERT OR REPLACE removes the conflicting row without a DELETE trigger: only the new
    // row's key is logged, which is why the applier must clear unique-key conflicts itself.
    app.execute("INSERT OR REPLACE INTO items VALUES (40, 'A', 9)", [])
        .unwrap();
    let last = read_changes(&lite, changes.last().unwrap().seq, 100).unwrap();
    assert_eq!(
        last.iter().map(summary).collect::<Vec<_>>(),
        vec!["items Insert - [Integer(40)]"]
    );

    disarm(&mut lite).unwrap();
    let left: i64 = lite
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_lite2pg\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "no trigger or table of lite2pg is left");
    let seq_rows: i64 = lite
        .query_row(
            "SELECT count(*) FROM sqlite_sequence WHERE name = '_lite2pg_changes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seq_rows, 0);
    // The application's writes go on, uncaptured.
    app.execute("INSERT INTO items VALUES (50, 'E', 5)", [])
        .unwrap();
    assert_eq!(high_water(&lite).unwrap(), 0);
}

#[test]
fn trigger_overhead_on_the_application_s_writes_is_measured() {
    // Informational (speed targets are benchmarks, not timed tests): prints the ratio.
    let run = |armed: bool| {
        let f =
            common::sqlite("CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, qty INTEGER);");
        let mut c = rusqlite::Connection::open(&f.path).unwrap();
        if armed {
            arm(
                &mut c,
                &[CaptureTable {
                    name: "items".into(),
                    key: vec!["id".into()],
                    uniques: vec![],
                }],
            )
            .unwrap();
        }
        let t = std::time::Instant::now();
        for i in 0..300i64 {
            c.execute("INSERT INTO items VALUES (?1, 'sku', 1)", [i])
                .unwrap();
            c.execute("UPDATE items SET qty = qty + 1 WHERE id = ?1", [i])
                .unwrap();
        }
        let n: i64 = c
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 300);
        t.elapsed()
    };
    let plain = run(false);
    let captured = run(true);
    eprintln!(
        "capture: 600 autocommit writes took {plain:?} without triggers, {captured:?} with ({:.2}x)",
        captured.as_secs_f64() / plain.as_secs_f64()
    );
}

#[test]
fn positions_continue_past_an_emptied_log_and_changes_trimmed_unapplied_are_found() {
    let f = common::sqlite(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT UNIQUE, qty INTEGER);
         CREATE TABLE pairs (a TEXT, b INTEGER, v REAL, PRIMARY KEY (a, b)) WITHOUT ROWID;
         CREATE TABLE loose (x, y);",
    );
    let mut lite = rusqlite::Connection::open(&f.path).unwrap();
    arm(&mut lite, &tables()).unwrap();
    lite.execute_batch(
        "INSERT INTO items VALUES (10, 'X', 1); INSERT INTO items VALUES (11, 'Y', 1);
         INSERT INTO items VALUES (12, 'Z', 1);",
    )
    .unwrap();
    assert_eq!(high_water(&lite).unwrap(), 3);
    assert_eq!(lost_after(&lite, 0).unwrap(), None);
    // Applied up to 1 and trimmed behind it: nothing lost.
    lite.execute("DELETE FROM _lite2pg_changes WHERE seq <= 1", [])
        .unwrap();
    assert_eq!(lost_after(&lite, 1).unwrap(), None);
    // Trimmed beyond what the server holds (a standby promoted after a failover).
    lite.execute("DELETE FROM _lite2pg_changes WHERE seq <= 2", [])
        .unwrap();
    assert_eq!(lost_after(&lite, 1).unwrap(), Some((2, 2)));
    // A cutover empties the log: the position is still the last one given.
    lite.execute("DELETE FROM _lite2pg_changes", []).unwrap();
    assert_eq!(high_water(&lite).unwrap(), 3);
    assert_eq!(lost_after(&lite, 3).unwrap(), None);
    assert_eq!(lost_after(&lite, 1).unwrap(), Some((2, 3)));
}
