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
//!
//! The reader only puts rows in canonical form; a thread of its own hashes them, so the
//! copy's reader, which feeds every COPY stream, is not slowed by the sha256 of each row.
//! Batches are bounded, so memory stays bounded whatever the tables.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::scan::{Digests, FedTable};
use super::{catalog, key_ranges, range_bits, table_spec, Compared, Options};
use crate::copy::{RowTap, TableJob};
use crate::error::{Error, Result};
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
            let whole = job.read_whole();
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
            let read = job.read_positions();
            let positions: Option<Vec<usize>> = spec
                .columns
                .iter()
                .map(|c| {
                    let at = job
                        .columns
                        .iter()
                        .position(|j| j.source.as_ref() == Some(&c.source));
                    at.and_then(|i| read[i])
                })
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

    /// Starts the hashing thread; returns the copier's tap, which puts the rows in
    /// canonical form and hands them over, and the handle that gives the digests once the
    /// tap is dropped (the copier's reader has ended).
    pub fn start(self) -> Result<(Box<dyn RowTap>, Hashing)> {
        let (tx, rx) = sync_channel::<Batch>(BATCHES);
        // Hashed batches come back emptied, so the same few buffers serve the whole copy.
        let (back, spare) = sync_channel::<Batch>(BATCHES + 2);
        let readers = self
            .tables
            .iter()
            .map(|t| t.as_ref().map(FedTable::reading))
            .collect();
        let mut tables = self.tables;
        let thread = std::thread::Builder::new()
            .name("lite2pg-hash".into())
            .spawn(move || {
                let mut ends = Vec::new();
                for b in rx {
                    let Some(Some(t)) = tables.get_mut(b.table) else {
                        continue;
                    };
                    if b.spoiled {
                        t.spoiled = true;
                    }
                    let mut start = 0;
                    for (r, &end) in b.rows.iter().enumerate() {
                        ends.clear();
                        ends.extend(
                            b.ends[r * b.width..(r + 1) * b.width]
                                .iter()
                                .map(|&e| e as usize),
                        );
                        t.add(&b.canon[start..end as usize], &ends);
                        start = end as usize;
                    }
                    let _ = back.try_send(b);
                }
                tables
            })
            .map_err(|e| Error::Environment(format!("cannot start the hashing thread: {e}")))?;
        let tap = Tap {
            tables: readers,
            batch: None,
            tx,
            spare,
            ends: Vec::new(),
        };
        Ok((Box::new(tap), Hashing(thread)))
    }
}

/// Canonical bytes per batch before it is handed to the hashing thread.
const BATCH_BYTES: usize = 256 << 10;
/// Batches on their way at once (memory: about this many times [`BATCH_BYTES`]).
const BATCHES: usize = 4;

/// Canonical rows of one table on their way to the hashing thread.
struct Batch {
    table: usize,
    width: usize,
    canon: Vec<u8>,
    /// End of each row in `canon`.
    rows: Vec<u32>,
    /// End of each field, from its row's start; `width` a row.
    ends: Vec<u32>,
    /// A value could not be read: the table is read again by the verification.
    spoiled: bool,
}

/// The hashing thread of a fused copy.
pub struct Hashing(JoinHandle<Vec<Option<FedTable>>>);

impl Hashing {
    /// The digests of every table read whole without a value that could not be read; call
    /// once the copy has ended (its reader dropped the tap).
    pub fn finish(self) -> Option<FusedDigests> {
        let tables = self.0.join().ok()?;
        Some(FusedDigests {
            by_source: tables
                .into_iter()
                .flatten()
                .filter(|t| !t.spoiled)
                .map(|t| (t.spec.source.clone(), t))
                .collect(),
        })
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

/// The copier's tap of a [`Fused`]: rows put in canonical form, batched per table.
struct Tap {
    /// The tables' specs and reader positions (their digests are the hashing thread's).
    tables: Vec<Option<FedTable>>,
    batch: Option<Batch>,
    tx: SyncSender<Batch>,
    /// Batches the hashing thread is done with.
    spare: Receiver<Batch>,
    ends: Vec<usize>,
}

impl Tap {
    fn send(&mut self) {
        if let Some(b) = self.batch.take() {
            // A hashing thread that is gone leaves the digests incomplete; the count check
            // then has the verification read SQLite itself.
            let _ = self.tx.send(b);
        }
    }
}

impl RowTap for Tap {
    fn row(&mut self, table: usize, row: &rusqlite::Row<'_>) {
        if self
            .batch
            .as_ref()
            .is_some_and(|b| b.table != table || b.canon.len() >= BATCH_BYTES)
        {
            self.send();
        }
        let Some(Some(t)) = self.tables.get(table) else {
            return;
        };
        let width = t.spec.columns.len();
        let spare = &self.spare;
        let b = self.batch.get_or_insert_with(|| match spare.try_recv() {
            Ok(mut b) => {
                b.canon.clear();
                b.rows.clear();
                b.ends.clear();
                (b.table, b.width, b.spoiled) = (table, width, false);
                b
            }
            Err(_) => Batch {
                table,
                width,
                canon: Vec::with_capacity(BATCH_BYTES + (BATCH_BYTES >> 2)),
                rows: Vec::new(),
                ends: Vec::new(),
                spoiled: false,
            },
        });
        let start = b.canon.len();
        self.ends.clear();
        if t.canonical(row, &mut b.canon, &mut self.ends) {
            b.rows.push(b.canon.len() as u32);
            b.ends.extend(self.ends.iter().map(|&e| e as u32));
        } else {
            b.canon.truncate(start);
            b.spoiled = true;
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.send();
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
