//! Tests of [`super`] (fused.rs), kept apart so the module reads as what it does.

use super::super::canon::{Col, Kind};
use super::super::scan::{
    sqlite_part, ColSpec, Digests, FedTable, IntRanges, Part, Sample, Sink, TableSpec,
};

fn col(name: &str, kind: Kind) -> ColSpec {
    ColSpec {
        source: name.into(),
        target: name.into(),
        col: Col {
            kind,
            epoch: None,
            naive_zone: None,
            decimal: None,
            clean_text: false,
        },
        as_text: false,
    }
}

fn spec(table: &str, key: Vec<usize>, int_key: Option<IntRanges>) -> TableSpec {
    TableSpec {
        source: table.into(),
        target: table.into(),
        qualified: format!("public.{table}"),
        columns: vec![
            col("id", Kind::Int),
            col("a", Kind::Text),
            col("b", Kind::Float),
            col("c", Kind::Jsonb),
        ],
        key,
        rowid_column: None,
        has_rowid: true,
        int_key,
        only: None,
    }
}

/// The verification's own reading of `spec`'s table.
fn read(c: &rusqlite::Connection, spec: &TableSpec, bits: u32) -> Digests {
    let mut read = Digests::new(bits);
    sqlite_part(
        c,
        spec,
        Part::All,
        Sample(u64::MAX),
        &mut Sink::Digest(&mut read),
    )
    .unwrap();
    read
}

/// Each row `sql` selects, shown to `each` as the copier's reader shows it.
fn each_row(c: &rusqlite::Connection, sql: &str, mut each: impl FnMut(&rusqlite::Row<'_>)) {
    let mut stmt = c.prepare(sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        each(r);
    }
}

/// What the copier's reader selects (the rowid, then the copied columns in its own
/// order: rowid, c, a, id, b) fed to a [`FedTable`], against the verification's own reading.
fn fed_and_read(c: &rusqlite::Connection, spec: TableSpec, bits: u32) -> (Digests, Digests) {
    let read = read(c, &spec, bits);
    let mut fed = FedTable::new(spec, bits, vec![3, 2, 4, 1]);
    each_row(c, "SELECT rowid, c, a, id, b FROM t ORDER BY rowid", |r| {
        fed.row(r)
    });
    assert!(!fed.spoiled);
    (fed.digests, read)
}

#[test]
fn rows_fed_by_the_copier_digest_exactly_as_the_verification_reads_them() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO t SELECT i, CASE i % 7 WHEN 0 THEN NULL ELSE 'é' || i END,
             i * 0.1, '{\"k\": ' || i || ', \"a\": [1.0]}' FROM n;
         INSERT INTO t VALUES (5000, 'same', 1.5, '{}'), (5001, 'same', 1.5, '{}');",
    )
    .unwrap();
    let cases = [
        ("keyed by hash", spec("t", vec![0], None), 6),
        (
            "keyed by value",
            spec("t", vec![0], Some(IntRanges::new(1, 5001, 5))),
            5,
        ),
        (
            "a multiset, duplicates counted",
            spec("t", Vec::new(), None),
            4,
        ),
    ];
    for (what, spec, bits) in cases {
        let (fed, read) = fed_and_read(&c, spec, bits);
        assert_eq!(fed.rows(), 3002, "{what}");
        assert_eq!(fed.counts, read.counts, "{what}");
        assert_eq!(fed.sums, read.sums, "{what}");
    }
}

#[test]
fn fused_digests_missing_a_row_sqlite_counts_are_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT);
         INSERT INTO t VALUES (1, 'x', 1.0, NULL), (2, 'y', 2.0, NULL);",
    )
    .unwrap();
    let src = crate::sqlite::open::open_source(&path).unwrap();
    let feed = |sql: &str| {
        let mut fed = FedTable::new(spec("t", vec![0], None), 2, vec![3, 2, 4, 1]);
        each_row(&c, sql, |r| fed.row(r));
        super::FusedDigests {
            by_source: [("t".to_string(), fed)].into(),
        }
    };
    let compared = (spec("t", vec![0], None), 2, 2, 1);
    let all = feed("SELECT rowid, c, a, id, b FROM t");
    assert!(all.take(&src, &compared).unwrap().is_some());
    // A reader that skipped a row: the verification reads SQLite itself.
    let short = feed("SELECT rowid, c, a, id, b FROM t WHERE id = 1");
    assert!(short.take(&src, &compared).unwrap().is_none());
    // Compared differently than when the copy began: likewise.
    let mut other = spec("t", vec![0], None);
    other.columns[2].col.kind = Kind::Numeric;
    assert!(all.take(&src, &(other, 2, 2, 1)).unwrap().is_none());
}

#[test]
fn an_integer_key_span_skips_what_is_not_an_integer_at_either_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE r (id INTEGER PRIMARY KEY);
         INSERT INTO r VALUES (-4), (9);
         CREATE TABLE m (k PRIMARY KEY);
         INSERT INTO m VALUES (NULL), (2.5), (3), (7), ('x'), (x'00');
         CREATE TABLE e (k PRIMARY KEY);
         CREATE TABLE n (k PRIMARY KEY);
         INSERT INTO n VALUES (NULL), ('y');",
    )
    .unwrap();
    let src = crate::sqlite::open::open_source(&path).unwrap();
    let span = |t: &str, col: &str| super::super::int_key_span(&src, t, col).unwrap();
    assert_eq!(span("r", "id"), Some((-4, 9)));
    assert_eq!(span("m", "k"), Some((3, 7)));
    assert_eq!(span("e", "k"), None);
    assert_eq!(span("n", "k"), None);
}

#[test]
fn the_bare_integer_key_span_is_two_index_lookups_not_a_scan() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    // An index on another column, which SQLite would scan as the smaller covering one.
    c.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER, payload TEXT);
         CREATE INDEX events_ts ON events (ts);",
    )
    .unwrap();
    let sql = super::super::bare_span_sql("\"id\"", "\"events\"");
    let mut plan = Vec::new();
    each_row(&c, &format!("EXPLAIN QUERY PLAN {sql}"), |r| {
        plan.push(r.get::<_, String>(3).unwrap())
    });
    assert!(
        plan.iter().all(|step| !step.starts_with("SCAN events")),
        "{sql}: {plan:?}"
    );
    assert_eq!(
        plan.iter()
            .filter(|s| s.starts_with("SEARCH events"))
            .count(),
        2,
        "{plan:?}"
    );
}

#[test]
fn rows_handed_to_the_hashing_thread_in_batches_digest_as_the_verification_reads_them() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    // Rows long enough for several batches; a table not tapped read in between.
    c.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
         INSERT INTO t SELECT i, printf('%.200c', 'x') || i, i / 3.0, NULL FROM n;
         CREATE TABLE u (id INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT);
         INSERT INTO u SELECT * FROM t WHERE id % 2 = 0;",
    )
    .unwrap();
    let keyed = spec("t", vec![0], None);
    let multiset = spec("u", Vec::new(), None);
    let fused = super::Fused {
        tables: vec![
            Some(FedTable::new(keyed.clone(), 5, vec![3, 2, 4, 1])),
            None,
            Some(FedTable::new(multiset.clone(), 3, vec![3, 2, 4, 1])),
        ],
    };
    let (mut tap, hashing) = fused.start().unwrap();
    for (table, sql) in [
        (0, "SELECT rowid, c, a, id, b FROM t ORDER BY rowid"),
        (1, "SELECT rowid, c, a, id, b FROM t ORDER BY rowid"),
        (2, "SELECT rowid, c, a, id, b FROM u ORDER BY rowid"),
    ] {
        each_row(&c, sql, |r| tap.row(table, r));
    }
    drop(tap);
    let digests = hashing.finish().unwrap();
    for (s, bits, rows) in [(keyed, 5, 4000), (multiset, 3, 2000)] {
        let read = read(&c, &s, bits);
        let fed = &digests.by_source[&s.source];
        assert_eq!(fed.digests.rows(), rows, "{}", s.source);
        assert_eq!(fed.digests.counts, read.counts, "{}", s.source);
        assert_eq!(fed.digests.sums, read.sums, "{}", s.source);
    }
}
