//! The contract both appliers keep, forward (SQLite → PostgreSQL) and reverse
//! (PostgreSQL → SQLite), and the one step that runs a batch inside a PostgreSQL
//! transaction.
//!
//! **Ordering.** Changes are read from the primary's log in log order (`seq`), a batch at a
//! time; the position applied up to (the forward applier's `applied_seq`, the reverse
//! applier's consumed `pg_changes` rows) commits in the same PostgreSQL transaction as the
//! rows the batch wrote, so the position never runs ahead of the data.
//!
//! **Idempotency.** A batch writes the *current* row of every key it touches (or deletes the
//! key when the row is gone), never the logged operation. Applying a batch twice, or a
//! batch that overlaps one already applied, leaves the same rows; order inside a batch does
//! not matter.
//!
//! **A crash between the two databases' commits.** Forward: the PostgreSQL transaction
//! holds both the rows and the position, and SQLite is only read, so a crash anywhere
//! loses the whole batch and the next step reads it again. Reverse: SQLite commits first,
//! then PostgreSQL consumes the changes; a crash between them leaves the changes in
//! `pg_changes`, and the next step writes the same current rows into SQLite again, which
//! changes nothing.
//!
//! **What the next run does.** Nothing special: `sync`, `cutover` and `rollback` start by
//! stepping until the log is empty, and the rules above make that safe after any crash.
//!
//! **Drop.** An applier dropped between steps leaves nothing open; one dropped inside a
//! step (a panic, a killed process) leaves a PostgreSQL transaction the server rolls back
//! when the connection closes.

use super::Side;
use crate::error::Result;
use crate::pg::{in_transaction, Client};

/// Changes read per batch.
pub const BATCH: usize = 20_000;

/// What one step did, as the sync loop and the switches count it.
pub trait Applied {
    /// Changes consumed from the log (0: the log is drained).
    fn changes(&self) -> usize;
}

/// One direction of the dual-write period (see the module's contract).
pub trait Applier {
    /// What one step reports.
    type Batch: Applied;

    /// The side whose log this applier reads: it applies only while that side is the
    /// primary.
    const FOLLOWS: Side;

    /// The PostgreSQL session the step's transaction runs on.
    fn client(&mut self) -> &mut Client;

    /// One batch, inside the transaction [`Applier::step`] opened: lock and read the sync
    /// state, read at most `limit` changes and the current rows of their keys, write them,
    /// record the position. `Ok(None)`: the primary is no longer [`Applier::FOLLOWS`], and
    /// nothing was written.
    fn step_in_txn(&mut self, limit: usize) -> Result<Option<Self::Batch>>;

    /// Applies the next batch of at most `limit` changes in one PostgreSQL transaction:
    /// committed when it applied (even nothing), rolled back on `None` or an error.
    fn step(&mut self, limit: usize) -> Result<Option<Self::Batch>> {
        in_transaction(self, Self::client, "an apply batch", |a| {
            a.step_in_txn(limit)
        })
    }
}
