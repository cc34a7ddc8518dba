//! `lite2pg cutover`: PostgreSQL becomes the primary.
//!
//! Before the freeze, while the application still writes: drain SQLite's log, compare the
//! rows written since the last verification, arm PostgreSQL's capture (inert until the
//! state flips), count orphans. In the freeze (`BEGIN IMMEDIATE` on SQLite): drain the
//! rest, check orphans and verify just what was written since, set the sequences, flip the
//! state in PostgreSQL and put guards on SQLite, commit SQLite then PostgreSQL.

use std::time::Instant;

use super::checks::{
    all_tables, orphan_refusal, orphans, tables_to_verify, touched_keys, verify_before_freeze,
    verify_tables,
};
use super::context::{open_writable, sqlite_err, Ctx};
use super::forward::Forward;
use super::pg_log as capg;
use super::sequences::set_sequences;
use super::settle::{mark, record_cutover, unmark, Switching};
use super::sqlite_log as cap;
use super::switch::{
    begin, conclude, drain, past, undone, utc_now, Begun, SwitchReport, SwitchRequest,
};
use super::Side;
use crate::error::{Error, Result};
use crate::pg::{quote_ident, Client};

/// `lite2pg cutover`: makes PostgreSQL the primary. Exit 0 switched, 1 refused and undone.
pub fn cutover(req: &SwitchRequest) -> Result<i32> {
    let (ctx, client, mut report) = match begin(req, "cutover", Side::Sqlite)? {
        Begun::Switch(s) => (s.ctx, s.client, s.report),
        Begun::Done(code) => return Ok(code),
    };
    if ctx.primary != Side::Sqlite {
        return Err(Error::Usage(format!(
            "PostgreSQL is the primary of schema {} already; `lite2pg rollback` switches back",
            quote_ident(&ctx.schema_name)
        )));
    }
    if let Some(reason) = rows_sync_could_not_carry(&client, &ctx)? {
        report.reason = Some(reason);
        return conclude(req, &client, &ctx.schema_name, &report, 1);
    }
    let mut applier = ctx.forward()?;
    before_freeze(req, &ctx, &client, &mut applier, &mut report)?;
    crate::failpoint::hit("cutover.armed");
    let orphans_before = orphans(&client, &ctx, &all_tables(&ctx), None)?;
    if !orphans_before.is_empty() && !req.allow_orphans {
        report.orphans = orphans_before;
        report.reason = Some(orphan_refusal(&report.orphans));
        return conclude(req, &client, &ctx.schema_name, &report, 1);
    }
    let at = utc_now(&client)?;
    let message = format!(
        "lite2pg: this database was cut over to PostgreSQL at {at}; write there, or run \
         lite2pg rollback"
    );
    let mut sqlite = open_writable(&req.source)?;
    let started = Instant::now();
    let tx = sqlite
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite_err(
            &req.source,
            "blocking writers (BEGIN IMMEDIATE)",
        ))?;
    let freeze = Freeze {
        req,
        ctx: &ctx,
        client: &client,
        deadline: started + req.max_freeze,
        lap: Instant::now(),
    };
    let outcome = freeze.run(&mut applier, &tx, &message, &mut report);
    let capture = ctx.capture_tables();
    match outcome {
        Ok(()) => {
            tx.commit()
                .map_err(sqlite_err(&req.source, "committing the guards"))?;
            report.freeze_s = started.elapsed().as_secs_f64();
            crate::failpoint::hit("cutover.between_commits");
            if let Err(e) = client.batch_execute("committing the switch", "COMMIT") {
                // SQLite is guarded but PostgreSQL did not take over: undo the guards. (Had
                // this process died here instead, the mark makes the next command finish
                // the cutover: capture/settle.rs.)
                let undo = cap::arm_sql(capture)
                    + &cap::unguard_sql(
                        &ctx.specs
                            .iter()
                            .map(|s| s.source.clone())
                            .collect::<Vec<_>>(),
                    );
                if sqlite.execute_batch(&undo).is_ok() {
                    let _ = unmark(&client, &ctx.schema_name);
                }
                return Err(e);
            }
            crate::failpoint::hit("cutover.committed");
            unmark(&client, &ctx.schema_name)?;
            report.ok = true;
            report.primary = Side::Postgresql;
            conclude(req, &client, &ctx.schema_name, &report, 0)
        }
        Err(e) => {
            let _ = tx.rollback();
            report.freeze_s = started.elapsed().as_secs_f64();
            let _ = client.batch_execute("undoing the switch", "ROLLBACK");
            let _ = unmark(&client, &ctx.schema_name);
            report.reason = Some(e.to_string());
            conclude(req, &client, &ctx.schema_name, &report, 1)?;
            undone(e)
        }
    }
}

/// Why cutover must wait: rows whose values sync could not carry into PostgreSQL.
fn rows_sync_could_not_carry(client: &Client, ctx: &Ctx) -> Result<Option<String>> {
    let rejected: i64 = client
        .query(
            "counting rows sync could not carry",
            "SELECT count(*) FROM lite2pg.sync_rejects WHERE target_schema = $1",
            &[&ctx.schema_name],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    Ok((rejected > 0).then(|| {
        format!(
            "{rejected} row(s) hold values PostgreSQL cannot store (lite2pg.sync_rejects lists \
             them; `lite2pg status` counts them): fix them in SQLite and let sync carry them"
        )
    }))
}

/// The work done while the application still writes, so the freeze has little left: drain
/// the log, compare what was written since the last verification, and arm PostgreSQL's
/// capture (created now, inert until the state says PostgreSQL is the primary: the freeze
/// then runs no DDL, which could wait on autovacuum's table locks).
fn before_freeze(
    req: &SwitchRequest,
    ctx: &Ctx,
    client: &Client,
    applier: &mut Forward,
    report: &mut SwitchReport,
) -> Result<()> {
    // (`predrain` off leaves it all to the freeze: the benchmark's worst case.)
    if req.predrain {
        report.drained_before = drain(applier, None)?;
        if !req.verify_full {
            report.verified_before = verify_before_freeze(ctx, client)?;
            // What changed while that ran.
            report.drained_before += drain(applier, None)?;
        }
    }
    let mut arm = String::from(capg::FUNCTIONS);
    for s in &ctx.specs {
        arm.push_str(&capg::arm_sql(
            s.qualified(),
            &ctx.schema_name,
            &s.target,
            &s.pg_key,
        ));
    }
    client.batch_execute("arming change capture in PostgreSQL", &arm)
}

/// The steps inside the write freeze, each timed and checked against the deadline.
struct Freeze<'a> {
    req: &'a SwitchRequest,
    ctx: &'a Ctx,
    client: &'a Client,
    deadline: Instant,
    lap: Instant,
}

impl Freeze<'_> {
    /// Records how long the step just finished took.
    fn lap(&mut self, name: &str, report: &mut SwitchReport) {
        report
            .freeze_steps
            .push((name.to_string(), self.lap.elapsed().as_secs_f64()));
        self.lap = Instant::now();
    }

    /// Drains, checks orphans, verifies, sets sequences, then prepares both commits: the
    /// state flip in an open PostgreSQL transaction, capture off and guards on in SQLite's
    /// (`tx`, holding the write lock).
    fn run(
        mut self,
        applier: &mut Forward,
        tx: &rusqlite::Transaction<'_>,
        message: &str,
        report: &mut SwitchReport,
    ) -> Result<()> {
        let (req, ctx, client) = (self.req, self.ctx, self.client);
        crate::failpoint::hit("cutover.frozen");
        report.drained_during = drain(applier, Some(self.deadline))?;
        self.lap("drain", report);
        let verify = tables_to_verify(client, ctx, req.verify_full)?;
        // Everything was checked before the freeze; now the rows written since.
        let touched = touched_keys(client, ctx)?;
        report.orphans = orphans(client, ctx, &verify, Some(&touched))?;
        self.lap("orphans", report);
        if !report.orphans.is_empty() && !req.allow_orphans {
            return Err(Error::Refused(orphan_refusal(&report.orphans)));
        }
        past(self.deadline, "the orphan check")?;
        verify_tables(ctx, client, &verify, (!req.verify_full).then_some(&touched))?;
        report.verified_tables = verify;
        self.lap("verify", report);
        crate::failpoint::hit("cutover.verified");
        past(self.deadline, "the verification")?;
        report.sequences = set_sequences(client, ctx, tx)?;
        self.lap("sequences", report);
        crate::failpoint::hit("cutover.sequences");
        // Committed before either side commits the switch, so a process killed between
        // the two commits leaves a mark to settle by (capture/settle.rs).
        mark(client, &ctx.schema_name, Switching::Cutover)?;
        crate::failpoint::hit("cutover.marked");
        // PostgreSQL side, in one transaction that commits after SQLite's: the state flip
        // turns capture on and any guards a rollback left off.
        client.batch_execute("switching the primary", "BEGIN")?;
        record_cutover(client, &ctx.schema_name)?;
        self.lap("postgresql side", report);
        // SQLite side: capture off, guards on, the log emptied (all of it is applied).
        let names: Vec<String> = ctx.specs.iter().map(|s| s.source.clone()).collect();
        let mut lite = cap::drop_capture_sql(ctx.capture_tables());
        lite.push_str(&cap::guard_sql(&names, message));
        lite.push_str(&format!("DELETE FROM {};\n", cap::CHANGES));
        tx.execute_batch(&lite)
            .map_err(sqlite_err(&req.source, "installing the write guards"))?;
        // The application's triggers act on PostgreSQL now; SQLite's would fire a second
        // time on the rows the reverse applier writes.
        super::app_triggers::park_sqlite(tx).map_err(sqlite_err(
            &req.source,
            "parking the application's triggers",
        ))?;
        self.lap("sqlite side", report);
        crate::failpoint::hit("cutover.before_commit");
        past(self.deadline, "the switch")
    }
}
