//! What `cutover` and `rollback` share: the request, the report, the drain, the freeze's
//! deadline.
//!
//! Both switches follow one shape: drain what is pending while writers still run, freeze the
//! old primary's writers, drain the rest, check (orphans, verification: `checks`), prepare
//! the other side (sequences, capture, guards) in open transactions on both databases, and
//! commit. A failure, or a freeze about to exceed `--max-freeze`, rolls both transactions
//! back: the old primary stays primary and writable, with nothing changed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::applier::{Applied, Applier, BATCH};
use super::Side;
use crate::error::{Error, Result};
use crate::pg::{Client, TargetChoice};

/// A validated `cutover` or `rollback` request.
#[derive(Debug, Clone)]
pub struct SwitchRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// Where to.
    pub target: TargetChoice,
    /// Target schema.
    pub schema: String,
    /// Longest acceptable write freeze.
    pub max_freeze: Duration,
    /// Verify every table, not only those written since the last verification.
    pub verify_full: bool,
    /// Switch even when rows reference missing parents.
    pub allow_orphans: bool,
    /// Print JSON instead of text.
    pub json: bool,
    /// Drain and verify while writers still run, so the freeze does only the rest (off
    /// only in the benchmark's worst case).
    pub predrain: bool,
}

/// What a switch did, printed and recorded in `lite2pg.sync_events`.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchReport {
    /// `cutover` or `rollback`.
    pub kind: String,
    /// Whether the primary switched.
    pub ok: bool,
    /// The primary afterwards.
    pub primary: Side,
    /// How long the old primary's writers were blocked, seconds.
    pub freeze_s: f64,
    /// Changes applied before the freeze.
    pub drained_before: usize,
    /// Changes applied during the freeze.
    pub drained_during: usize,
    /// Tables verified during the freeze.
    pub verified_tables: Vec<String>,
    /// Rows whose foreign key points at no row (allowed with `--allow-orphans`).
    pub orphans: Vec<String>,
    /// Identity sequences moved past the used ids.
    pub sequences: Vec<String>,
    /// Rows written since the last verification that were compared before the freeze
    /// (those that changed again are compared once more inside it).
    pub verified_before: u64,
    /// Seconds of each step inside the freeze, in order.
    pub freeze_steps: Vec<(String, f64)>,
    /// Why it did not switch.
    pub reason: Option<String>,
    /// A switch found interrupted and settled first (capture/settle.rs): what was done.
    pub settled: Option<String>,
}

impl SwitchReport {
    pub(crate) fn new(kind: &str, primary: Side) -> SwitchReport {
        SwitchReport {
            kind: kind.into(),
            ok: false,
            primary,
            freeze_s: 0.0,
            drained_before: 0,
            drained_during: 0,
            verified_tables: Vec::new(),
            orphans: Vec::new(),
            sequences: Vec::new(),
            verified_before: 0,
            freeze_steps: Vec::new(),
            reason: None,
            settled: None,
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(w) = &self.settled {
            out.push_str(&format!("lite2pg {}: first, {w}\n", self.kind));
        }
        out.push_str(&if self.ok {
            format!(
                "lite2pg {}: done, {} is the primary now\n",
                self.kind, self.primary
            )
        } else {
            format!(
                "lite2pg {}: NOT DONE, {} is still the primary and writable\n",
                self.kind, self.primary
            )
        });
        out.push_str(&format!(
            "  write freeze:     {:.3} s\n  drained:          {} change(s) before the freeze, {} \
             during it\n  verified:         {}\n",
            self.freeze_s,
            self.drained_before,
            self.drained_during,
            if self.verified_tables.is_empty() {
                "no table was written since the last verification".to_string()
            } else {
                format!("{} table(s), all match", self.verified_tables.len())
            }
        ));
        if !self.freeze_steps.is_empty() {
            out.push_str(&format!(
                "  freeze steps:     {}\n",
                self.freeze_steps
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.3} s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.sequences.is_empty() {
            out.push_str(&format!(
                "  sequences:        {}\n",
                self.sequences.join(", ")
            ));
        }
        if !self.orphans.is_empty() {
            out.push_str(&format!(
                "  orphans:          {}\n",
                self.orphans.join("; ")
            ));
        }
        if let Some(r) = &self.reason {
            out.push_str(&format!("  reason:           {r}\n"));
        }
        out
    }
}

fn emit(req: &SwitchRequest, report: &SwitchReport) -> Result<()> {
    let text = if req.json {
        serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
    } else {
        report.render()
    };
    crate::output::write(None, &text)
}

/// How a switch starts: its context loaded (again, after a settlement) and its report
/// begun, or its outcome already.
pub(crate) enum Begun {
    /// Go on and switch.
    Switch(Box<Started>),
    /// The switch asked for was the one found interrupted, and settling it finished it:
    /// reported, with this exit code.
    Done(i32),
}

/// A switch started: the sync context, the connection it was loaded on, the report.
pub(crate) struct Started {
    /// The sync context, as PostgreSQL's state says now.
    pub ctx: super::context::Ctx,
    /// The connection it was read on.
    pub client: Client,
    /// The switch's report, with what a settlement did first.
    pub report: SwitchReport,
}

/// Starts `kind` (`cutover` or `rollback`, from the primary `from`): loads the sync
/// context and settles first a switch found interrupted (capture/settle.rs).
pub(crate) fn begin(req: &SwitchRequest, kind: &str, from: Side) -> Result<Begun> {
    use super::context::Ctx;
    let target = req.target.require(kind)?;
    let (ctx, client) = Ctx::load(target.clone(), &req.source, &req.schema)?;
    let mut report = SwitchReport::new(kind, from);
    report.settled = super::settle::settle(&client, &ctx)?;
    if report.settled.is_none() {
        return Ok(Begun::Switch(Box::new(Started {
            ctx,
            client,
            report,
        })));
    }
    let (ctx, client) = Ctx::load(target, &req.source, &req.schema)?;
    if ctx.primary != from {
        report.ok = true;
        report.primary = ctx.primary;
        return Ok(Begun::Done(conclude(
            req,
            &client,
            &ctx.schema_name,
            &report,
            0,
        )?));
    }
    Ok(Begun::Switch(Box::new(Started {
        ctx,
        client,
        report,
    })))
}

/// Records the switch attempt, prints its report, and returns `code`.
pub(crate) fn conclude(
    req: &SwitchRequest,
    client: &Client,
    schema: &str,
    report: &SwitchReport,
    code: i32,
) -> Result<i32> {
    record_event(client, schema, report);
    emit(req, report)?;
    Ok(code)
}

/// The outcome of a switch undone by `e`: exit 1 when refused for the data or the state,
/// else the error itself.
pub(crate) fn undone(e: Error) -> Result<i32> {
    match e {
        Error::Refused(_) => Ok(1),
        other => Err(other),
    }
}

fn record_event(client: &Client, schema: &str, report: &SwitchReport) {
    let detail = serde_json::to_value(report).unwrap_or_default();
    let _ = client.query(
        "recording the switch",
        "INSERT INTO lite2pg.sync_events (target_schema, kind, ok, freeze_s, detail) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&schema, &report.kind, &report.ok, &report.freeze_s, &detail],
    );
}

/// Steps `applier` until its log is empty (with `deadline`, a freeze's end, as a limit);
/// returns the changes applied.
pub(crate) fn drain<A: Applier>(applier: &mut A, deadline: Option<Instant>) -> Result<usize> {
    let mut n = 0;
    loop {
        let Some(batch) = applier.step(BATCH)? else {
            return Err(Error::Refused(format!(
                "{} stopped being the primary while draining (another switch ran)",
                A::FOLLOWS
            )));
        };
        n += batch.changes();
        if batch.changes() == 0 {
            return Ok(n);
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(Error::Refused("draining would exceed --max-freeze".into()));
        }
    }
}

/// Refuses once the freeze has passed its deadline; `what` names the step still running.
pub(crate) fn past(deadline: Instant, what: &str) -> Result<()> {
    if Instant::now() > deadline {
        return Err(Error::Refused(format!(
            "the write freeze would exceed --max-freeze ({what} was still running)"
        )));
    }
    Ok(())
}

/// The server's clock, for messages.
pub(crate) fn utc_now(client: &Client) -> Result<String> {
    Ok(client
        .query(
            "reading the server clock",
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')",
            &[],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or_default())
}
