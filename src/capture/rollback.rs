//! `lite2pg rollback`: SQLite becomes the primary again, with PostgreSQL's writes.
//!
//! The mirror of cutover: drain PostgreSQL's log, block its writers (`LOCK TABLE … IN
//! EXCLUSIVE MODE`, readers still read), drain the rest, verify, guard PostgreSQL, then on
//! SQLite remove the guards, re-arm capture and move `sqlite_sequence` past PostgreSQL's
//! ids; PostgreSQL commits first, so a failure between the commits leaves both sides guarded
//! (no divergence), and the switch's mark makes the next command complete it
//! (capture/settle.rs).

use std::time::Instant;

use super::checks::{tables_to_verify, touched_keys, verify_tables};
use super::context::{open_writable, sqlite_err};
use super::pg_log as capg;
use super::settle::{mark, reopen_sqlite, unmark, Switching};
use super::switch::{begin, conclude, drain, past, undone, Begun, SwitchRequest};
use super::Side;
use crate::error::{Error, Result};
use crate::pg::quote_ident;

/// `lite2pg rollback`: makes SQLite the primary again. Exit 0 switched, 1 refused and undone.
pub fn rollback(req: &SwitchRequest) -> Result<i32> {
    let (ctx, client, mut report) = match begin(req, "rollback", Side::Postgresql)? {
        Begun::Switch(s) => (s.ctx, s.client, s.report),
        Begun::Done(code) => return Ok(code),
    };
    if ctx.primary != Side::Postgresql {
        return Err(Error::Usage(format!(
            "SQLite is the primary of schema {} already (no cutover to roll back); to remove a \
             migration's tables before any cutover, use `lite2pg rollback --run ID`",
            quote_ident(&ctx.schema_name)
        )));
    }
    let mut rev = ctx.reverse()?;
    report.drained_before = drain(&mut rev, None)?;
    crate::failpoint::hit("rollback.drained");
    let tables: Vec<String> = ctx
        .specs
        .iter()
        .map(|s| s.qualified().to_string())
        .collect();
    let started = Instant::now();
    let deadline = started + req.max_freeze;
    let timeout = format!("{}ms", req.max_freeze.as_millis().max(1));
    // Committed before either side commits the switch, and cleared after both: a process
    // killed between them leaves a mark to settle by (capture/settle.rs).
    mark(&client, &ctx.schema_name, Switching::Rollback)?;
    crate::failpoint::hit("rollback.marked");
    client.batch_execute("blocking PostgreSQL's writers", "BEGIN")?;
    let outcome = (|| -> Result<()> {
        client.query(
            "limiting the wait for locks",
            "SELECT set_config('lock_timeout', $1, true)",
            &[&timeout],
        )?;
        // EXCLUSIVE blocks writers and lets readers (and the drain) through.
        client.batch_execute(
            "blocking PostgreSQL's writers (LOCK TABLE … IN EXCLUSIVE MODE)",
            &format!("LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", ")),
        )?;
        crate::failpoint::hit("rollback.locked");
        report.drained_during = drain(&mut rev, Some(deadline))?;
        let verify = tables_to_verify(&client, &ctx, req.verify_full)?;
        past(deadline, "the drain")?;
        let touched = if req.verify_full {
            None
        } else {
            Some(touched_keys(&client, &ctx)?)
        };
        verify_tables(&ctx, &client, &verify, touched.as_ref())?;
        report.verified_tables = verify;
        crate::failpoint::hit("rollback.verified");
        past(deadline, "the verification")?;
        // Guards, active once the state says SQLite is the primary; capture goes inert
        // then. (CREATE OR REPLACE TRIGGER takes a lock the EXCLUSIVE one held already
        // covers; dropping a trigger would have to wait for every reader.)
        let mut sql = String::from(capg::FUNCTIONS);
        for s in &ctx.specs {
            sql.push_str(&capg::guard_sql(s.qualified(), &ctx.schema_name));
        }
        client.batch_execute("guarding the PostgreSQL tables", &sql)?;
        // SQLite's own triggers act again; PostgreSQL's would fire a second time on the
        // rows the forward applier writes.
        super::app_triggers::arm_pg(&client, &ctx.schema_name, false)?;
        crate::failpoint::hit("rollback.guarded");
        Ok(())
    })();
    if let Err(e) = outcome {
        let _ = client.batch_execute("undoing the rollback", "ROLLBACK");
        let _ = unmark(&client, &ctx.schema_name);
        report.freeze_s = started.elapsed().as_secs_f64();
        report.reason = Some(e.to_string());
        conclude(req, &client, &ctx.schema_name, &report, 1)?;
        return undone(e);
    }
    // SQLite: guards off, capture on, AUTOINCREMENT counters past PostgreSQL's ids.
    let mut sqlite = open_writable(&req.source)?;
    let tx = sqlite
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite_err(&req.source, "taking SQLite's write lock"))?;
    let high_water = match reopen_sqlite(&client, &ctx, &tx) {
        Ok(hw) => hw,
        Err(e) => {
            let _ = tx.rollback();
            let _ = client.batch_execute("undoing the rollback", "ROLLBACK");
            let _ = unmark(&client, &ctx.schema_name);
            report.reason = Some(e.to_string());
            report.freeze_s = started.elapsed().as_secs_f64();
            return conclude(req, &client, &ctx.schema_name, &report, 1);
        }
    };
    client.query(
        "recording the switch back",
        "UPDATE lite2pg.sync_state SET primary_side = 'sqlite', rollback_at = now(), \
         applied_seq = $2, touched = '{}', updated_at = now() WHERE target_schema = $1",
        &[&ctx.schema_name, &high_water],
    )?;
    client.query(
        "forgetting the verified keys",
        "DELETE FROM lite2pg.sync_touched_keys WHERE target_schema = $1",
        &[&ctx.schema_name],
    )?;
    crate::failpoint::hit("rollback.prepared");
    // PostgreSQL first: a failure between the commits leaves both sides guarded (no
    // divergence), and the mark makes the next command complete it.
    client.batch_execute("committing the switch back", "COMMIT")?;
    crate::failpoint::hit("rollback.between_commits");
    tx.commit().map_err(sqlite_err(
        &req.source,
        "committing SQLite's side of the rollback",
    ))?;
    crate::failpoint::hit("rollback.committed");
    unmark(&client, &ctx.schema_name)?;
    report.freeze_s = started.elapsed().as_secs_f64();
    report.ok = true;
    report.primary = Side::Sqlite;
    conclude(req, &client, &ctx.schema_name, &report, 0)
}
