//! A switch interrupted between its steps, found and settled.
//!
//! `cutover` commits on SQLite first (guards on, capture off), then on PostgreSQL (the
//! state flip); `rollback` on PostgreSQL first (state back, guards), then on SQLite
//! (guards off, capture on). Each records itself in `sync_state.switching` before its
//! first commit and clears it after its last, so a process killed anywhere leaves one of
//! these states, which the next `status`, `sync`, `cutover` or `rollback` settles:
//!
//! | mark | PostgreSQL says | SQLite | what happened | settled by |
//! |---|---|---|---|---|
//! | cutover | SQLite | not guarded | killed before any commit | undoing: SQLite stays the primary |
//! | cutover | SQLite | guarded | killed between the commits | completing: the state flips |
//! | cutover | PostgreSQL | guarded | killed after both | completing: the mark goes |
//! | rollback | PostgreSQL | guarded | killed before any commit | undoing: PostgreSQL stays the primary |
//! | rollback | SQLite | guarded | killed between the commits | completing: SQLite's side is done again |
//! | rollback | SQLite | not guarded | killed after both | completing: the mark goes |
//!
//! Every check a switch makes (drain, orphans, verification) runs before its first commit,
//! so completing one needs none of them again: a completion runs the same side
//! (`record_cutover`, `reopen_sqlite`) the switch itself runs.

use super::context::{open_writable, sqlite_err, Ctx};
use super::sqlite_log as cap;
use crate::error::Result;
use crate::pg::Client;

/// Which switch is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switching {
    /// `cutover`.
    Cutover,
    /// `rollback`.
    Rollback,
}

impl Switching {
    fn name(self) -> &'static str {
        match self {
            Switching::Cutover => "cutover",
            Switching::Rollback => "rollback",
        }
    }
}

/// The session lock a switch holds from its mark to its end: a settlement that cannot
/// take it leaves alone the switch still running (a crash drops the lock with the
/// session).
fn switch_lock(schema: &str) -> String {
    format!("lite2pg-switch:{schema}")
}

/// Records (committed, outside any open transaction) that `which` is in flight on `schema`,
/// holding the switch lock until [`unmark`].
pub(crate) fn mark(client: &Client, schema: &str, which: Switching) -> Result<()> {
    client.query(
        "taking the switch lock",
        "SELECT pg_advisory_lock(hashtextextended($1, 0))",
        &[&switch_lock(schema)],
    )?;
    client.query(
        "recording the switch in flight",
        "UPDATE lite2pg.sync_state SET switching = $2, updated_at = now() \
         WHERE target_schema = $1",
        &[&schema, &which.name()],
    )?;
    Ok(())
}

/// Clears the mark: the switch is over, done or undone; releases the switch lock.
pub(crate) fn unmark(client: &Client, schema: &str) -> Result<()> {
    client.query(
        "recording the switch over",
        "UPDATE lite2pg.sync_state SET switching = NULL, updated_at = now() \
         WHERE target_schema = $1",
        &[&schema],
    )?;
    unlock(client, schema)
}

/// Releases the switch lock this session holds.
fn unlock(client: &Client, schema: &str) -> Result<()> {
    client.query(
        "releasing the switch lock",
        "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
        &[&switch_lock(schema)],
    )?;
    Ok(())
}

/// The switch in flight on `schema`, if one was interrupted.
fn in_flight(client: &Client, schema: &str) -> Result<Option<Switching>> {
    let rows = client.query(
        "reading the switch in flight",
        "SELECT switching FROM lite2pg.sync_state WHERE target_schema = $1",
        &[&schema],
    )?;
    Ok(
        match rows
            .first()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .as_deref()
        {
            Some("cutover") => Some(Switching::Cutover),
            Some("rollback") => Some(Switching::Rollback),
            _ => None,
        },
    )
}

/// Finds a switch interrupted on `ctx`'s schema and completes or undoes it (module doc);
/// returns what it did, for the user. `ctx.primary` is what PostgreSQL said when `ctx`
/// was loaded: load it again after a settlement.
pub(crate) fn settle(client: &Client, ctx: &Ctx) -> Result<Option<String>> {
    let Some(which) = in_flight(client, &ctx.schema_name)? else {
        return Ok(None);
    };
    let free: bool = client
        .query(
            "taking the switch lock",
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&switch_lock(&ctx.schema_name)],
        )?
        .first()
        .is_some_and(|r| r.get(0));
    if !free {
        // The switch is still running in another process: its own end settles it.
        return Ok(None);
    }
    let names: Vec<String> = ctx.specs.iter().map(|s| s.source.clone()).collect();
    let guarded = {
        let conn = open_writable(&ctx.source)?;
        cap::guarded(&conn, &names).map_err(sqlite_err(&ctx.source, "reading its guards"))?
    };
    let schema = &ctx.schema_name;
    let said = match (which, ctx.primary, guarded) {
        (Switching::Cutover, super::Side::Sqlite, false) => {
            unmark(client, schema)?;
            "a cutover was interrupted before either database committed it: undone, SQLite is \
             still the primary and writable"
        }
        (Switching::Cutover, super::Side::Sqlite, true) => {
            flip_to_postgresql(client, schema)?;
            unmark(client, schema)?;
            "a cutover was interrupted after SQLite committed it (guards on) and before \
             PostgreSQL did: completed, PostgreSQL is the primary"
        }
        (Switching::Cutover, super::Side::Postgresql, _) => {
            unmark(client, schema)?;
            "a cutover was interrupted after both databases committed it: completed, \
             PostgreSQL is the primary"
        }
        (Switching::Rollback, super::Side::Postgresql, _) => {
            unmark(client, schema)?;
            "a rollback was interrupted before either database committed it: undone, \
             PostgreSQL is still the primary"
        }
        (Switching::Rollback, super::Side::Sqlite, true) => {
            finish_rollback(client, ctx)?;
            unmark(client, schema)?;
            "a rollback was interrupted after PostgreSQL committed it and before SQLite did: \
             completed, SQLite is the primary and writable"
        }
        (Switching::Rollback, super::Side::Sqlite, false) => {
            unmark(client, schema)?;
            "a rollback was interrupted after both databases committed it: completed, SQLite \
             is the primary"
        }
    };
    Ok(Some(said.to_string()))
}

/// PostgreSQL's side of a cutover, in the caller's open transaction: the state says
/// PostgreSQL is the primary (its capture turns on, SQLite's guards hold), and the keys
/// verified so far are forgotten.
pub(crate) fn record_cutover(client: &Client, schema: &str) -> Result<()> {
    client.query(
        "recording the switch",
        "UPDATE lite2pg.sync_state SET primary_side = 'postgresql', cutover_at = now(), \
         touched = '{}', updated_at = now() WHERE target_schema = $1",
        &[&schema],
    )?;
    client.query(
        "forgetting the verified keys",
        "DELETE FROM lite2pg.sync_touched_keys WHERE target_schema = $1",
        &[&schema],
    )?;
    super::app_triggers::arm_pg(client, schema, true)?;
    Ok(())
}

/// SQLite's side of a rollback, in `tx` (holding SQLite's write lock): guards off, capture
/// on, AUTOINCREMENT counters past PostgreSQL's ids; returns the change log's position,
/// from which the forward applier goes on.
pub(crate) fn reopen_sqlite(
    client: &Client,
    ctx: &super::context::Ctx,
    tx: &rusqlite::Transaction<'_>,
) -> Result<i64> {
    let names: Vec<String> = ctx.specs.iter().map(|s| s.source.clone()).collect();
    let lite = cap::unguard_sql(&names) + &cap::arm_sql(ctx.capture_tables());
    tx.execute_batch(&lite)
        .map_err(sqlite_err(&ctx.source, "re-arming capture"))?;
    super::app_triggers::restore_sqlite(tx).map_err(sqlite_err(
        &ctx.source,
        "putting the application's triggers back",
    ))?;
    super::sequences::restore_sqlite_sequence(client, ctx, tx)?;
    cap::high_water(tx).map_err(sqlite_err(&ctx.source, "reading the log's position"))
}

/// Completes a cutover whose SQLite side committed: PostgreSQL's side, as the freeze left
/// it (the sequences were set before it, autocommitted).
fn flip_to_postgresql(client: &Client, schema: &str) -> Result<()> {
    client.batch_execute("completing the cutover", "BEGIN")?;
    match record_cutover(client, schema) {
        Ok(()) => client.batch_execute("completing the cutover", "COMMIT"),
        Err(e) => {
            let _ = client.batch_execute("completing the cutover", "ROLLBACK");
            Err(e)
        }
    }
}

/// Completes a rollback whose PostgreSQL side committed: SQLite's side again, and the log
/// position recorded.
fn finish_rollback(client: &Client, ctx: &Ctx) -> Result<()> {
    let mut sqlite = open_writable(&ctx.source)?;
    let tx = sqlite
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite_err(&ctx.source, "taking SQLite's write lock"))?;
    let high_water = reopen_sqlite(client, ctx, &tx)?;
    tx.commit().map_err(sqlite_err(
        &ctx.source,
        "committing SQLite's side of the rollback",
    ))?;
    // Nothing wrote the log while SQLite was guarded without capture: the position the
    // interrupted rollback recorded is this one.
    client.query(
        "recording the switch back",
        "UPDATE lite2pg.sync_state SET applied_seq = $2, updated_at = now() \
         WHERE target_schema = $1",
        &[&ctx.schema_name, &high_water],
    )?;
    Ok(())
}
