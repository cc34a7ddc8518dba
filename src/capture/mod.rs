//! The dual-write shim: keep PostgreSQL in step with the live SQLite file, switch the
//! primary, switch back, and clean up.
//!
//! ```text
//!            forward (SQLite is primary)                    reverse (PostgreSQL is primary)
//!  app ─► SQLite ─ triggers ─► _lite2pg_changes         app ─► PostgreSQL ─ triggers ─► lite2pg.pg_changes
//!                  (sqlite_log)      │ keys only                        (pg_log)             │ keys only
//!                                    ▼                                                        ▼
//!          forward::Forward: current rows of those keys      reverse::Reverse: current rows of those keys
//!              ─► PostgreSQL, one transaction per batch          ─► SQLite, one transaction per batch
//! ```
//!
//! Both appliers keep the contract in [`applier`]: ordered by the log, idempotent (a batch
//! writes the *current* row of every key it touches), and safe across a crash between the
//! two databases' commits. `context::Ctx` is what every command reads first: the target,
//! the plan, how each table is applied, and which [`Side`] is the primary.
//!
//! | file | job |
//! |---|---|
//! | `context` | the state row, the recorded plan, the shared context of every command |
//! | `sqlite_log`, `pg_log` | each side's triggers, change log and write guards |
//! | `spec` | how one table is applied: its key on both sides, columns, SQL |
//! | `applier` | the contract both appliers keep, and the one step (BEGIN … COMMIT) |
//! | `forward`, `reverse` | the two appliers |
//! | `sync`, `status` | the `sync` loop and `status` |
//! | `checks` | what a switch checks before and inside its freeze: drained logs, orphans, verification |
//! | `switch` | what both switches share: the request, the report, the drain, the deadline |
//! | `sequences` | identity sequences and `sqlite_sequence` set past the ids both sides used |
//! | `cutover`, `rollback`, `finish` | the three commands that end with a switch or the period |
//! | `app_triggers` | the application's triggers: only the primary's act |

mod app_triggers;
mod applied;
pub mod applier;
mod backoff;
pub mod checks;
pub mod context;
pub mod cutover;
pub mod finish;
pub mod forward;
pub mod journal;
mod outage;
pub mod pg_log;
pub mod process;
pub mod reverse;
pub mod rollback;
pub mod sequences;
pub mod settle;
pub mod spec;
pub mod sqlite_log;
pub mod status;
pub mod switch;
pub mod sync;

use serde::Serialize;

use crate::error::{Error, Result};

/// The database the application writes to: the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The SQLite file (before a cutover, and after a rollback).
    Sqlite,
    /// The PostgreSQL target (after a cutover).
    Postgresql,
}

impl Side {
    /// The name stored in `lite2pg.sync_state.primary_side` and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Sqlite => "sqlite",
            Side::Postgresql => "postgresql",
        }
    }

    /// Reads a stored side.
    pub fn parse(s: &str) -> Result<Side> {
        match s {
            "sqlite" => Ok(Side::Sqlite),
            "postgresql" => Ok(Side::Postgresql),
            other => Err(Error::Refused(format!(
                "the control schema names an unknown primary side `{other}`: lite2pg.sync_state \
                 was edited by hand or by a newer lite2pg"
            ))),
        }
    }

    /// The direction changes flow while this side is the primary.
    pub fn direction(self) -> &'static str {
        match self {
            Side::Sqlite => "sqlite→pg",
            Side::Postgresql => "pg→sqlite",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
