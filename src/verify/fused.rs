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
#[path = "fused_tests.rs"]
mod tests;
