//! The verification fused with the copy: the SQLite side of pass 1 is hashed as the
//! copier's reader reads each row, so the verification after a copy reads only PostgreSQL.
//!
//! The rows are put in verify's own canonical form ([`super::canon`]), not the encoder's
//! output, so DESIGN.md rule 6 holds: a value the encoder got wrong still differs from its
//! source. What the copier's reader could get wrong is which rows it read; so a fused
//! table counts only when its digests hold exactly the rows an independent `count(*)` finds
//! in SQLite, and its spec is the one the comparison derives from the catalog after the
//! load. Otherwise, or when a value could not be read, the SQLite side is read again as
//! `lite2pg verify` reads it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::scan::{Digests, FedTable};
use super::{catalog, key_ranges, range_bits, table_spec, Compared, Options};
use crate::copy::{RowTap, TableJob};
use crate::error::Result;
use crate::pg::Client;
use crate::plan::Plan;
use crate::sqlite::open::Source;

/// The SQLite sides being digested during a copy, by copy job.
#[derive(Debug)]
pub struct Fused {
    tables: Vec<Option<FedTable>>,
}

/// The digests a fused copy left, by SQLite table name, for [`super::compare_tables`].
#[derive(Debug, Default)]
pub struct FusedDigests {
    by_source: HashMap<String, FedTable>,
}

impl Fused {
    /// Digests for every job read whole whose compared columns the reader selects; the
    /// others (a resumed table, a column the copier does not read) are left to the
    /// verification's own reading.
    pub fn prepare(src: &Source, plan: &Plan, client: &Client, jobs: &[TableJob]) -> Result<Fused> {
        let cat = catalog(client, &plan.options.schema)?;
        let mut tables = Vec::with_capacity(jobs.len());
        for job in jobs {
            let whole = matches!(&job.gaps[..], [g] if g.lo.is_none() && g.hi.is_none());
            let planned = plan.tables.iter().find(|t| t.source == job.source);
            let spec = match (whole, planned) {
                (true, Some(t)) => cat
                    .get(&t.target)
                    .and_then(|c| table_spec(plan, t, c).ok())
                    .map(|s| (s, t.rows)),
                _ => None,
            };
            let Some((spec, rows)) = spec else {
                tables.push(None);
                continue;
            };
            // The reader selects the key (one rowid, or the key columns), then the copied
            // columns that have a source, in order.
            let first = job.key_columns.len().max(1);
            let read: Vec<&str> = job
                .columns
                .iter()
                .filter_map(|c| c.source.as_deref())
                .collect();
            let positions: Option<Vec<usize>> = spec
                .columns
                .iter()
                .map(|c| read.iter().position(|r| *r == c.source).map(|p| first + p))
                .collect();
            let Some(positions) = positions else {
                tables.push(None);
                continue;
            };
            let bits = range_bits(rows);
            let mut one: Vec<Compared> = vec![(spec, rows, 0, 0)];
            key_ranges(src, &mut one, &[bits], &Options::default())?;
            let (spec, ..) = one.remove(0);
            tables.push(Some(FedTable::new(spec, bits, positions)));
        }
        Ok(Fused { tables })
    }

    /// The copier's tap feeding these digests (shared: the reader runs on its own thread).
    pub fn tap(this: &Arc<Mutex<Fused>>) -> Box<dyn RowTap> {
        Box::new(Tap(this.clone()))
    }

    /// The digests of every table read whole without a value it could not read.
    pub fn finish(self) -> FusedDigests {
        FusedDigests {
            by_source: self
                .tables
                .into_iter()
                .flatten()
                .filter(|t| !t.spoiled)
                .map(|t| (t.spec.source.clone(), t))
                .collect(),
        }
    }
}

impl FusedDigests {
    /// The SQLite-side digests of table `i` of a comparison, when the fused copy's stand
    /// for them: the same compared columns and key ranges, and the rows SQLite counts.
    pub(super) fn take(&self, src: &Source, spec: &Compared) -> Result<Option<(u32, Digests)>> {
        let Some(fed) = self.by_source.get(&spec.0.source) else {
            return Ok(None);
        };
        let same_columns = fed.spec.columns.len() == spec.0.columns.len()
            && fed
                .spec
                .columns
                .iter()
                .zip(&spec.0.columns)
                .all(|(a, b)| a.source == b.source && a.target == b.target && a.col == b.col)
            && fed.spec.key == spec.0.key;
        if !same_columns || fed.digests.rows() != super::count_sqlite(src, &spec.0.source)? {
            return Ok(None);
        }
        Ok(Some((fed.digests.bits, fed.digests.clone())))
    }

    /// The key ranges the fused digests of `source` were cut by.
    pub(super) fn int_key(&self, source: &str) -> Option<Option<super::scan::IntRanges>> {
        self.by_source.get(source).map(|t| t.spec.int_key)
    }
}

/// The [`RowTap`] of a [`Fused`].
struct Tap(Arc<Mutex<Fused>>);

impl RowTap for Tap {
    fn row(&mut self, table: usize, row: &rusqlite::Row<'_>) {
        if let Ok(mut f) = self.0.lock() {
            if let Some(Some(t)) = f.tables.get_mut(table) {
                t.row(row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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

    /// What the copier's reader selects (the rowid, then the copied columns in its own
    /// order) fed to a [`FedTable`], against the verification's own reading.
    fn fed_and_read(c: &rusqlite::Connection, spec: TableSpec, bits: u32) -> (Digests, Digests) {
        let mut read = Digests::new(bits);
        sqlite_part(
            c,
            &spec,
            Part::All,
            Sample(u64::MAX),
            &mut Sink::Digest(&mut read),
        )
        .unwrap();
        // Reader order: rowid, c, a, id, b.
        let positions = vec![3, 2, 4, 1];
        let mut fed = FedTable::new(spec, bits, positions);
        let mut stmt = c
            .prepare("SELECT rowid, c, a, id, b FROM t ORDER BY rowid")
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            fed.row(r);
        }
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
            let mut stmt = c.prepare(sql).unwrap();
            let mut rows = stmt.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                fed.row(r);
            }
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
}
