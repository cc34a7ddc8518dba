//! The streaming copier: SQLite rows → binary COPY → PostgreSQL, in chunks that commit one by
//! one, so a killed run can resume.
//!
//! ```text
//! reader (one thread, one SQLite read transaction = one snapshot)
//!   └─ for each table, largest first, for each key-range gap still to copy:
//!        read rows in key order, encode them (encode.rs), cut a chunk every CHUNK_BYTES
//!   ──bounded channel (backpressure)──►
//! sink (N connections, N = --jobs)
//!   └─ per chunk: BEGIN; COPY … FROM STDIN (FORMAT binary); record chunk + rejects; COMMIT
//! ```
//!
//! Memory is bounded by the chunk size times (jobs + 2), whatever the size of the database.
//! A chunk PostgreSQL refuses for its data (a CHECK, a value its input rules reject) is split
//! in halves under savepoints until the refused rows are found; those go to the reject list
//! with PostgreSQL's reason, the rest is written.

pub mod copy_in;
pub mod encode;
mod inet;
mod interval;
mod json_check;
pub mod keys;
pub mod numeric;
pub mod progress;
mod reader;
mod sink;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::pg::Target;
use encode::Codec;
use keys::{Gap, Key};
pub use progress::Progress;

/// Upper bound of one chunk's encoded bytes before it is cut.
pub const CHUNK_BYTES: usize = 8 << 20;
/// Upper bound of one chunk's rows.
pub const CHUNK_ROWS: u64 = 200_000;

/// One column the copier fills.
#[derive(Debug, Clone)]
pub struct CopyColumn {
    /// SQLite column read for it; `None` for the added rowid column.
    pub source: Option<String>,
    /// PostgreSQL column name, unquoted.
    pub target: String,
    /// How values are encoded.
    pub codec: Codec,
}

/// The columns the copier (and sync's applier) fill for `table`, in COPY order: every
/// planned column but the generated ones, which PostgreSQL computes.
pub fn copy_columns(table: &crate::plan::TablePlan) -> Vec<CopyColumn> {
    table
        .columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| CopyColumn {
            source: (!c.source.is_empty()).then(|| c.source.clone()),
            target: c.target.clone(),
            codec: Codec {
                ty: c.ty,
                conversion: c.conversion,
            },
        })
        .collect()
}

/// What the copier needs to know about one table.
#[derive(Debug, Clone)]
pub struct TableJob {
    /// SQLite table name.
    pub source: String,
    /// PostgreSQL table name, unquoted (control-schema key and messages).
    pub target: String,
    /// Qualified, quoted PostgreSQL table.
    pub qualified: String,
    /// Key columns (SQLite names) of a `WITHOUT ROWID` table; empty: keyed by rowid.
    pub key_columns: Vec<String>,
    /// Names of the key's parts, for reports (`rowid` or the key columns).
    pub key_names: Vec<String>,
    /// Columns copied, in COPY order (generated columns excluded).
    pub columns: Vec<CopyColumn>,
    /// Key ranges still to copy.
    pub gaps: Vec<Gap>,
}

impl TableJob {
    /// Nothing of the table was copied before: its one gap is all of it (a resumed
    /// table's rows are partly in already).
    pub fn read_whole(&self) -> bool {
        matches!(&self.gaps[..], [g] if g.lo.is_none() && g.hi.is_none())
    }

    /// Where each copied column is in the reader's row, which selects the key first (the
    /// rowid, or the key columns) and then every column that has a source, in order;
    /// `None` for the added rowid column, which has no source.
    pub fn read_positions(&self) -> Vec<Option<usize>> {
        let mut next = self.key_columns.len().max(1);
        self.columns
            .iter()
            .map(|c| {
                c.source.as_ref().map(|_| {
                    next += 1;
                    next - 1
                })
            })
            .collect()
    }
}

/// A row that was not carried, and why.
#[derive(Debug, Clone)]
pub struct Reject {
    /// The row's key, for people (`{"id": 7}`).
    pub key: Json,
    /// The column whose value was refused, when one was.
    pub column: Option<String>,
    /// Why.
    pub reason: String,
    /// The original value's bytes.
    pub value: Option<Vec<u8>>,
    /// `text`, `blob`, `integer`, `real` or `row`.
    pub value_kind: &'static str,
    /// The row was carried all the same, its value changed as `reason` says
    /// (`--invalid-text clean`): listed, but no rejected row.
    pub carried: bool,
}

/// Per-row keys of a chunk, kept to name the rows PostgreSQL refuses.
#[derive(Debug, Clone)]
pub enum RowKeys {
    /// Rowid tables.
    Rowids(Vec<i64>),
    /// `WITHOUT ROWID` tables.
    Keys(Vec<Key>),
}

/// A range of rows, encoded, on its way to PostgreSQL.
#[derive(Debug)]
pub struct Chunk {
    /// Index of the table in the job list.
    pub table: usize,
    /// Order of this chunk within its table.
    pub ord: i64,
    /// Exclusive lower key bound.
    pub lo: Option<Key>,
    /// Inclusive upper key bound.
    pub hi: Option<Key>,
    /// Encoded tuples, without COPY header and trailer.
    pub data: Vec<u8>,
    /// End offset of each tuple in `data`.
    pub row_ends: Vec<u32>,
    /// Key of each tuple.
    pub row_keys: RowKeys,
    /// Rows read from SQLite (encoded + rejected).
    pub read: u64,
    /// Rows the encoder refused.
    pub rejects: Vec<Reject>,
}

/// Sees every row the reader reads, before it is encoded: the verification hashes the
/// SQLite side here, in its own canonical form, so it need not read the source again.
pub trait RowTap: Send {
    /// One row of job `table`, as the reader selected it: the key (the rowid, or the key
    /// columns of a `WITHOUT ROWID` table), then each copied column that has a source,
    /// in order. Only called for tables whose gaps are the whole table.
    fn row(&mut self, table: usize, row: &rusqlite::Row<'_>);
}

/// How a copy runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Parallel COPY streams.
    pub workers: usize,
    /// Rows per chunk at most ([`CHUNK_ROWS`] but in tests of many chunks).
    pub chunk_rows: u64,
}

/// Where the copy reads: a SQLite connection of its own (it becomes the reader thread's).
pub struct ReadFrom {
    /// The connection.
    pub conn: rusqlite::Connection,
    /// The source file, for messages.
    pub path: std::path::PathBuf,
    /// Shown every row read, when there is one.
    pub tap: Option<Box<dyn RowTap>>,
}

/// Copies every gap of every job, reading from `from`. Returns when all chunks are
/// committed, or with the first error (committed chunks stay; `--resume` continues from
/// them).
pub fn run(
    from: ReadFrom,
    jobs: Vec<TableJob>,
    target: &Target,
    run_id: uuid::Uuid,
    settings: Settings,
    progress: Arc<Progress>,
) -> Result<()> {
    let Settings {
        workers,
        chunk_rows,
    } = settings;
    let ReadFrom {
        conn,
        path: source,
        mut tap,
    } = from;
    let jobs = Arc::new(jobs);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(1);
    let reader = {
        let jobs = jobs.clone();
        let stop = stop.clone();
        let progress = progress.clone();
        std::thread::Builder::new()
            .name("lite2pg-reader".into())
            .spawn(move || {
                let reading = reader::Reading {
                    conn: &conn,
                    path: &source,
                    progress: &progress,
                    stop: &stop,
                    chunk_rows,
                };
                reading.all(&jobs, tx, tap.as_deref_mut())
            })
            .map_err(|e| Error::Environment(format!("cannot start the reader thread: {e}")))?
    };
    let sunk = sink::run(
        target,
        jobs,
        rx,
        run_id,
        workers.max(1),
        progress,
        stop.clone(),
    );
    if sunk.is_err() {
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let read = reader
        .join()
        .map_err(|_| Error::Environment("the reader thread panicked".into()))?;
    // A sink failure explains a reader that stopped early; report it first.
    sunk?;
    read
}
