//! `cutover`, `rollback` and `finish`: switching the primary between SQLite and PostgreSQL,
//! and ending the dual-write period.
//!
//! Both switches follow one shape: drain what is pending while writers still run, freeze the
//! old primary's writers, drain the rest, check (orphans, verification), prepare the other
//! side (sequences, capture, guards) in open transactions on both databases, and commit. A
//! failure, or a freeze about to exceed `--max-freeze`, rolls both transactions back: the
//! old primary stays primary and writable, with nothing changed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::apply::{self, Applier};
use super::reverse::Reverse;
use super::sqlite as cap;
use super::sync::{connect_to_control, sqlite_err, Ctx};
use super::{pg as capg, sync::open_writable};
use crate::error::{Error, Result};
use crate::pg::TargetChoice;
use crate::pg::{qualified, quote_ident, Client};

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
    pub primary: String,
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
}

impl SwitchReport {
    fn new(kind: &str, primary: &str) -> SwitchReport {
        SwitchReport {
            kind: kind.into(),
            ok: false,
            primary: primary.into(),
            freeze_s: 0.0,
            drained_before: 0,
            drained_during: 0,
            verified_tables: Vec::new(),
            orphans: Vec::new(),
            sequences: Vec::new(),
            verified_before: 0,
            freeze_steps: Vec::new(),
            reason: None,
        }
    }

    fn render(&self) -> String {
        let mut out = if self.ok {
            format!(
                "lite2pg {}: done, {} is the primary now\n",
                self.kind, self.primary
            )
        } else {
            format!(
                "lite2pg {}: NOT DONE, {} is still the primary and writable\n",
                self.kind, self.primary
            )
        };
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

/// Records the switch attempt, prints its report, and returns `code`.
fn conclude(
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
fn undone(e: Error) -> Result<i32> {
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

/// Tables to verify: every table with `--verify full`, else those the appliers wrote since
/// the last verification and those sync cannot follow.
fn tables_to_verify(client: &Client, ctx: &Ctx, full: bool) -> Result<Vec<String>> {
    if full {
        return Ok(ctx.plan.tables.iter().map(|t| t.target.clone()).collect());
    }
    let rows = client.query(
        "reading the tables written since the last verification",
        "SELECT touched FROM lite2pg.sync_state WHERE target_schema = $1",
        &[&ctx.schema_name],
    )?;
    let mut tables: Vec<String> = rows
        .first()
        .map(|r| r.get::<_, Vec<String>>(0))
        .unwrap_or_default();
    for t in &ctx.unsynced {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    Ok(tables)
}

/// Compares the rows written since the last verification while writers still run, and
/// takes them off the list the freeze compares: claimed (deleted) first, so a key written
/// again meanwhile is put back by the applier; keys that differ (most often because they
/// changed while being read) are put back too. Returns how many rows compared equal.
fn verify_before_freeze(ctx: &Ctx, client: &Client) -> Result<u64> {
    let claimed = client.query(
        "claiming the keys written since the last verification",
        "DELETE FROM lite2pg.sync_touched_keys WHERE target_schema = $1 \
         RETURNING target_name, key",
        &[&ctx.schema_name],
    )?;
    let mut only: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for r in &claimed {
        only.entry(r.get(0)).or_default().push(r.get(1));
    }
    let put_back = |keys: &[(String, i64)]| -> Result<()> {
        let (names, values): (Vec<String>, Vec<i64>) = keys.iter().cloned().unzip();
        client.query(
            "putting keys back on the list for the freeze",
            "INSERT INTO lite2pg.sync_touched_keys (target_schema, target_name, key) \
             SELECT $1, n, k FROM unnest($2::text[], $3::int8[]) AS u(n, k) \
             ON CONFLICT DO NOTHING",
            &[&ctx.schema_name, &names, &values],
        )?;
        Ok(())
    };
    let all: Vec<(String, i64)> = only
        .iter()
        .flat_map(|(t, ks)| ks.iter().map(move |k| (t.clone(), *k)))
        .collect();
    if all.is_empty() {
        return Ok(0);
    }
    let mut plan = ctx.plan.clone();
    plan.tables.retain(|t| only.contains_key(&t.target));
    let outcome = (|| {
        let src = crate::sqlite::open_source(&ctx.source)?;
        let opts = crate::verify::Options {
            max_mismatches: usize::MAX,
            only_keys: Some(std::sync::Arc::new(only.clone())),
            ..Default::default()
        };
        crate::verify::compare_tables(&src, &plan, &ctx.target, client, &opts)
    })();
    let results = match outcome {
        Ok((results, _)) => results,
        Err(e) => {
            put_back(&all)?;
            return Err(e);
        }
    };
    let mut again: Vec<(String, i64)> = Vec::new();
    for t in &results {
        if t.status == crate::verify::TableStatus::Match {
            continue;
        }
        let keys: Option<Vec<i64>> = t
            .mismatches
            .iter()
            .map(|m| {
                m.key
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(|v| v.as_i64())
            })
            .collect();
        match keys {
            Some(keys) if !t.mismatches_truncated => {
                again.extend(keys.into_iter().map(|k| (t.target_name.clone(), k)))
            }
            // Not read key by key: the whole table's claimed keys go back.
            _ => again.extend(
                only.get(&t.target_name)
                    .into_iter()
                    .flatten()
                    .map(|k| (t.target_name.clone(), *k)),
            ),
        }
    }
    put_back(&again)?;
    Ok((all.len() - again.len().min(all.len())) as u64)
}

/// Compares `tables` between the two sides: every row, or with `touched` (the keys written
/// since the last verification, [`touched_keys`]) just those rows of tables keyed by one
/// integer; an error names the differing tables.
fn verify_tables(
    ctx: &Ctx,
    client: &Client,
    tables: &[String],
    touched: Option<&std::collections::HashMap<String, Vec<i64>>>,
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let mut plan = ctx.plan.clone();
    plan.tables.retain(|t| tables.contains(&t.target));
    let mut opts = crate::verify::Options {
        schema_check: touched.is_none(),
        ..Default::default()
    };
    if let Some(touched) = touched {
        let only: std::collections::HashMap<String, Vec<i64>> = ctx
            .specs
            .iter()
            .filter(|s| s.int_key() && tables.contains(&s.target))
            .map(|s| {
                let keys = touched.get(&s.target).cloned().unwrap_or_default();
                (s.target.clone(), keys)
            })
            .collect();
        // Nothing written since the last verification: nothing to compare.
        plan.tables
            .retain(|t| only.get(&t.target).map_or(true, |keys| !keys.is_empty()));
        opts.only_keys = Some(std::sync::Arc::new(only));
    }
    if plan.tables.is_empty() {
        return Ok(());
    }
    let src = crate::sqlite::open_source(&ctx.source)?;
    let (results, _) = crate::verify::compare_tables(&src, &plan, &ctx.target, client, &opts)?;
    let bad: Vec<String> = results
        .iter()
        .filter(|t| t.status != crate::verify::TableStatus::Match)
        .map(|t| {
            format!(
                "{} ({} differing row(s){})",
                quote_ident(&t.target_name),
                t.mismatch_count,
                t.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "verification found differences in {}; run `lite2pg verify {} --report diff.html` \
             to see them",
            bad.join(", "),
            ctx.source.display()
        )))
    }
}

fn orphan_refusal(orphans: &[String]) -> String {
    format!(
        "rows reference missing parents (SQLite did not enforce these foreign keys): {}; fix \
         them in SQLite, or accept them with --allow-orphans (the constraints then stay \
         unenforced for those rows)",
        orphans.join("; ")
    )
}

fn all_tables(ctx: &Ctx) -> Vec<String> {
    ctx.plan.tables.iter().map(|t| t.target.clone()).collect()
}

/// The keys written since the last verification, per table keyed by one integer.
fn touched_keys(client: &Client, ctx: &Ctx) -> Result<std::collections::HashMap<String, Vec<i64>>> {
    let rows = client.query(
        "reading the keys written since the last verification",
        "SELECT target_name, array_agg(key ORDER BY key) FROM lite2pg.sync_touched_keys \
         WHERE target_schema = $1 GROUP BY target_name",
        &[&ctx.schema_name],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Rows whose foreign key points at no row, per constraint, among tables in `tables`.
/// With `only` (keys written since the last verification, per integer-keyed table), just the
/// rows that can have become orphans since: child rows written, and children of parent keys
/// written, when the key is the referenced column; other constraints are checked whole.
fn orphans(
    client: &Client,
    ctx: &Ctx,
    tables: &[String],
    only: Option<&std::collections::HashMap<String, Vec<i64>>>,
) -> Result<Vec<String>> {
    let fks = client.query(
        "reading the foreign keys",
        "SELECT c.conname, cl.relname, fl.relname, \
                array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), \
                array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) \
         FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid \
         JOIN pg_class fl ON fl.oid = c.confrelid JOIN pg_namespace n ON n.oid = cl.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = $1",
        &[&ctx.schema_name],
    )?;
    let mut out = Vec::new();
    for fk in fks {
        let name: String = fk.get(0);
        let child: String = fk.get(1);
        let parent: String = fk.get(2);
        if !tables.contains(&child) && !tables.contains(&parent) {
            continue;
        }
        let cols: Vec<String> = fk.get(3);
        let refs: Vec<String> = fk.get(4);
        let not_null = cols
            .iter()
            .map(|c| format!("c.{} IS NOT NULL", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let join = cols
            .iter()
            .zip(&refs)
            .map(|(c, r)| format!("p.{} = c.{}", quote_ident(r), quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let int_key = |t: &str| {
            ctx.specs
                .iter()
                .find(|s| s.target == t && s.int_key())
                .map(|s| s.pg_key[0].clone())
        };
        let none: Vec<i64> = Vec::new();
        // (condition, child keys, parent keys) narrowing the check to what was written.
        let narrow = only.and_then(|only| {
            let child_key = int_key(&child)?;
            let parent_by_key = cols.len() == 1 && int_key(&parent).is_some_and(|k| refs == [k]);
            let written_parents = only.get(&parent).unwrap_or(&none);
            if !written_parents.is_empty() && !parent_by_key {
                return None;
            }
            Some((
                format!(
                    "(c.{} = ANY($1) OR c.{} = ANY($2))",
                    quote_ident(&child_key),
                    quote_ident(&cols[0])
                ),
                only.get(&child).unwrap_or(&none).clone(),
                written_parents.clone(),
            ))
        });
        let (filter, child_keys, parent_keys) = match narrow {
            Some((_, c, p)) if c.is_empty() && p.is_empty() => continue,
            Some((f, c, p)) => (format!("{f} AND "), c, p),
            None => (String::new(), Vec::new(), Vec::new()),
        };
        let sql = format!(
            "SELECT count(*) FROM {} c WHERE {filter}{not_null} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {join})",
            qualified(&ctx.schema_name, &child),
            qualified(&ctx.schema_name, &parent),
        );
        let context = format!("counting orphans of {name}");
        let rows = if filter.is_empty() {
            client.query(&context, &sql, &[])?
        } else {
            client.query(&context, &sql, &[&child_keys, &parent_keys])?
        };
        let n: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
        if n > 0 {
            out.push(format!(
                "{n} row(s) of {} reference no row of {} ({})",
                quote_ident(&child),
                quote_ident(&parent),
                quote_ident(&name)
            ));
        }
    }
    Ok(out)
}

/// Moves every identity sequence past the ids used on either side (SQLite's
/// `sqlite_sequence` included, so AUTOINCREMENT ids are never reused).
fn set_sequences(client: &Client, ctx: &Ctx, sqlite: &rusqlite::Connection) -> Result<Vec<String>> {
    let has_seq: bool = sqlite
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err(&ctx.source, "reading sqlite_sequence"))?;
    let mut out = Vec::new();
    for t in &ctx.plan.tables {
        for c in t.columns.iter().filter(|c| c.identity) {
            let used: i64 = if has_seq {
                sqlite
                    .query_row(
                        "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?1",
                        [&t.source],
                        |r| r.get(0),
                    )
                    .map_err(sqlite_err(&ctx.source, "reading sqlite_sequence"))?
            } else {
                0
            };
            let q = qualified(&ctx.schema_name, &t.target);
            let max_sql = format!(
                "SELECT coalesce(max({}), 0)::int8 FROM {q}",
                quote_ident(&c.target)
            );
            let max: i64 = client
                .query("reading the highest id", &max_sql, &[])?
                .first()
                .map(|r| r.get(0))
                .unwrap_or(0);
            let n = used.max(max);
            let rows = client.query(
                &format!("moving the identity of {q} past {n}"),
                "SELECT setval(pg_get_serial_sequence($1, $2), greatest($3::int8, 1), $3::int8 >= 1)",
                &[&q, &c.target, &n],
            )?;
            if !rows.is_empty() {
                out.push(format!(
                    "{}.{} > {n}",
                    quote_ident(&t.target),
                    quote_ident(&c.target)
                ));
            }
        }
    }
    Ok(out)
}

/// Runs `step` (one batch: `Some(changes)`, or `None` when the primary changed under it)
/// until the log is empty; returns the changes applied.
fn drain(
    mut step: impl FnMut() -> Result<Option<usize>>,
    deadline: Option<Instant>,
    switched: &str,
) -> Result<usize> {
    let mut n = 0;
    loop {
        let Some(changes) = step()? else {
            return Err(Error::Refused(format!(
                "{switched} while draining (another switch ran)"
            )));
        };
        n += changes;
        if changes == 0 {
            return Ok(n);
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(Error::Refused("draining would exceed --max-freeze".into()));
        }
    }
}

fn drain_forward(applier: &mut Applier, deadline: Option<Instant>) -> Result<usize> {
    drain(
        || Ok(applier.step(apply::BATCH)?.map(|b| b.changes)),
        deadline,
        "PostgreSQL became the primary",
    )
}

fn drain_reverse(rev: &mut Reverse, deadline: Option<Instant>) -> Result<usize> {
    drain(
        || Ok(rev.step(apply::BATCH)?.map(|b| b.changes)),
        deadline,
        "SQLite became the primary",
    )
}

fn past(deadline: Instant, what: &str) -> Result<()> {
    if Instant::now() > deadline {
        return Err(Error::Refused(format!(
            "the write freeze would exceed --max-freeze ({what} was still running)"
        )));
    }
    Ok(())
}

fn utc_now(client: &Client) -> Result<String> {
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

/// `lite2pg cutover`: makes PostgreSQL the primary. Exit 0 switched, 1 refused and undone.
pub fn cutover(req: &SwitchRequest) -> Result<i32> {
    let target = req.target.require("cutover")?;
    let (ctx, client) = Ctx::load(target, &req.source, &req.schema)?;
    let mut report = SwitchReport::new("cutover", "sqlite");
    if ctx.primary != "sqlite" {
        return Err(Error::Usage(format!(
            "PostgreSQL is the primary of schema {} already; `lite2pg rollback` switches back",
            quote_ident(&ctx.schema_name)
        )));
    }
    let rejected: i64 = client
        .query(
            "counting rows sync could not carry",
            "SELECT count(*) FROM lite2pg.sync_rejects WHERE target_schema = $1",
            &[&ctx.schema_name],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    if rejected > 0 {
        report.reason = Some(format!(
            "{rejected} row(s) hold values PostgreSQL cannot store (lite2pg.sync_rejects lists \
             them; `lite2pg status` counts them): fix them in SQLite and let sync carry them"
        ));
        return conclude(req, &client, &ctx.schema_name, &report, 1);
    }
    // Drained while the application still writes, so the freeze has little left to do.
    // (`predrain` off leaves it all to the freeze: the benchmark's worst case.)
    let mut applier = ctx.forward()?;
    if req.predrain {
        report.drained_before = drain_forward(&mut applier, None)?;
        if !req.verify_full {
            report.verified_before = verify_before_freeze(&ctx, &client)?;
            // What changed while that ran.
            report.drained_before += drain_forward(&mut applier, None)?;
        }
    }
    let capture = ctx.capture_tables();
    // PostgreSQL's capture, created now and inert until the state says PostgreSQL is the
    // primary: the freeze then runs no DDL, which could wait on autovacuum's table locks.
    let mut arm = String::from(capg::FUNCTIONS);
    for s in &ctx.specs {
        arm.push_str(&capg::arm_sql(
            s.qualified(),
            &ctx.schema_name,
            &s.target,
            &s.pg_key,
        ));
    }
    client.batch_execute("arming change capture in PostgreSQL", &arm)?;
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
    let deadline = started + req.max_freeze;
    let outcome = (|| -> Result<()> {
        crate::failpoint::hit("cutover.frozen");
        let mut step = Instant::now();
        let mut lap = |name: &str, report: &mut SwitchReport| {
            report
                .freeze_steps
                .push((name.to_string(), step.elapsed().as_secs_f64()));
            step = Instant::now();
        };
        report.drained_during = drain_forward(&mut applier, Some(deadline))?;
        lap("drain", &mut report);
        let verify = tables_to_verify(&client, &ctx, req.verify_full)?;
        // Everything was checked before the freeze; now the rows written since.
        let touched = touched_keys(&client, &ctx)?;
        report.orphans = orphans(&client, &ctx, &verify, Some(&touched))?;
        lap("orphans", &mut report);
        if !report.orphans.is_empty() && !req.allow_orphans {
            return Err(Error::Refused(orphan_refusal(&report.orphans)));
        }
        past(deadline, "the orphan check")?;
        verify_tables(
            &ctx,
            &client,
            &verify,
            (!req.verify_full).then_some(&touched),
        )?;
        report.verified_tables = verify;
        lap("verify", &mut report);
        past(deadline, "the verification")?;
        report.sequences = set_sequences(&client, &ctx, &tx)?;
        lap("sequences", &mut report);
        // PostgreSQL side, in one transaction that commits after SQLite's: the state flip
        // turns capture on and any guards a rollback left off.
        client.batch_execute("switching the primary", "BEGIN")?;
        client.query(
            "recording the switch",
            "UPDATE lite2pg.sync_state SET primary_side = 'postgresql', cutover_at = now(), \
             touched = '{}', updated_at = now() WHERE target_schema = $1",
            &[&ctx.schema_name],
        )?;
        client.query(
            "forgetting the verified keys",
            "DELETE FROM lite2pg.sync_touched_keys WHERE target_schema = $1",
            &[&ctx.schema_name],
        )?;
        lap("postgresql side", &mut report);
        // SQLite side: capture off, guards on, the log emptied (all of it is applied).
        let names: Vec<String> = ctx.specs.iter().map(|s| s.source.clone()).collect();
        let mut lite = cap::drop_capture_sql(capture);
        lite.push_str(&cap::guard_sql(&names, &message));
        lite.push_str(&format!("DELETE FROM {};\n", cap::CHANGES));
        tx.execute_batch(&lite)
            .map_err(sqlite_err(&req.source, "installing the write guards"))?;
        lap("sqlite side", &mut report);
        crate::failpoint::hit("cutover.before_commit");
        past(deadline, "the switch")
    })();
    match outcome {
        Ok(()) => {
            tx.commit()
                .map_err(sqlite_err(&req.source, "committing the guards"))?;
            report.freeze_s = started.elapsed().as_secs_f64();
            if let Err(e) = client.batch_execute("committing the switch", "COMMIT") {
                // SQLite is guarded but PostgreSQL did not take over: undo the guards.
                let undo = cap::arm_sql(capture)
                    + &cap::unguard_sql(
                        &ctx.specs
                            .iter()
                            .map(|s| s.source.clone())
                            .collect::<Vec<_>>(),
                    );
                let _ = sqlite.execute_batch(&undo);
                return Err(e);
            }
            report.ok = true;
            report.primary = "postgresql".into();
            conclude(req, &client, &ctx.schema_name, &report, 0)
        }
        Err(e) => {
            let _ = tx.rollback();
            report.freeze_s = started.elapsed().as_secs_f64();
            let _ = client.batch_execute("undoing the switch", "ROLLBACK");
            report.reason = Some(e.to_string());
            conclude(req, &client, &ctx.schema_name, &report, 1)?;
            undone(e)
        }
    }
}

/// `lite2pg rollback`: makes SQLite the primary again. Exit 0 switched, 1 refused and undone.
pub fn rollback(req: &SwitchRequest) -> Result<i32> {
    let target = req.target.require("rollback")?;
    let (ctx, client) = Ctx::load(target, &req.source, &req.schema)?;
    let mut report = SwitchReport::new("rollback", "postgresql");
    if ctx.primary != "postgresql" {
        return Err(Error::Usage(format!(
            "SQLite is the primary of schema {} already (no cutover to roll back); to remove a \
             migration's tables before any cutover, use `lite2pg rollback --run ID`",
            quote_ident(&ctx.schema_name)
        )));
    }
    let mut rev = ctx.reverse()?;
    report.drained_before = drain_reverse(&mut rev, None)?;
    let capture = ctx.capture_tables();
    let tables: Vec<String> = ctx
        .specs
        .iter()
        .map(|s| s.qualified().to_string())
        .collect();
    let started = Instant::now();
    let deadline = started + req.max_freeze;
    let timeout = format!("{}ms", req.max_freeze.as_millis().max(1));
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
        report.drained_during = drain_reverse(&mut rev, Some(deadline))?;
        let verify = tables_to_verify(&client, &ctx, req.verify_full)?;
        past(deadline, "the drain")?;
        let touched = if req.verify_full {
            None
        } else {
            Some(touched_keys(&client, &ctx)?)
        };
        verify_tables(&ctx, &client, &verify, touched.as_ref())?;
        report.verified_tables = verify;
        past(deadline, "the verification")?;
        // Guards, active once the state says SQLite is the primary; capture goes inert
        // then. (CREATE OR REPLACE TRIGGER takes a lock the EXCLUSIVE one held already
        // covers; dropping a trigger would have to wait for every reader.)
        let mut sql = String::from(capg::FUNCTIONS);
        for s in &ctx.specs {
            sql.push_str(&capg::guard_sql(s.qualified(), &ctx.schema_name));
        }
        client.batch_execute("guarding the PostgreSQL tables", &sql)?;
        Ok(())
    })();
    if let Err(e) = outcome {
        let _ = client.batch_execute("undoing the rollback", "ROLLBACK");
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
    let names: Vec<String> = ctx.specs.iter().map(|s| s.source.clone()).collect();
    let lite = cap::unguard_sql(&names) + &cap::arm_sql(capture);
    let sqlite_side = (|| -> Result<i64> {
        tx.execute_batch(&lite)
            .map_err(sqlite_err(&req.source, "re-arming capture"))?;
        restore_sqlite_sequence(&client, &ctx, &tx)?;
        cap::high_water(&tx).map_err(sqlite_err(&req.source, "reading the log's position"))
    })();
    let high_water = match sqlite_side {
        Ok(hw) => hw,
        Err(e) => {
            let _ = tx.rollback();
            let _ = client.batch_execute("undoing the rollback", "ROLLBACK");
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
    // PostgreSQL first: a failure between the commits leaves both sides guarded (no
    // divergence), and running rollback again completes it.
    client.batch_execute("committing the switch back", "COMMIT")?;
    tx.commit().map_err(sqlite_err(
        &req.source,
        "committing SQLite's side of the rollback",
    ))?;
    report.freeze_s = started.elapsed().as_secs_f64();
    report.ok = true;
    report.primary = "sqlite".into();
    conclude(req, &client, &ctx.schema_name, &report, 0)
}

/// Sets SQLite's AUTOINCREMENT counters past every id PostgreSQL handed out.
fn restore_sqlite_sequence(client: &Client, ctx: &Ctx, tx: &rusqlite::Connection) -> Result<()> {
    let has_seq: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err(&ctx.source, "reading sqlite_sequence"))?;
    if !has_seq {
        return Ok(());
    }
    for t in &ctx.plan.tables {
        for c in t
            .columns
            .iter()
            .filter(|c| c.identity && !c.source.is_empty())
        {
            let q = qualified(&ctx.schema_name, &t.target);
            let last: Option<i64> = client
                .query(
                    "reading PostgreSQL's last id",
                    "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass)",
                    &[&q, &c.target],
                )?
                .first()
                .and_then(|r| r.get(0));
            let Some(last) = last else { continue };
            tx.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                rusqlite::params![t.source, last],
            )
            .map_err(sqlite_err(&ctx.source, "updating sqlite_sequence"))?;
        }
    }
    Ok(())
}

/// A validated `finish` request.
#[derive(Debug, Clone)]
pub struct FinishRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// Where to.
    pub target: TargetChoice,
    /// Target schema.
    pub schema: String,
}

/// `lite2pg finish`: removes every capture artefact from both sides.
pub fn finish(req: &FinishRequest) -> Result<i32> {
    let mut client = connect_to_control(&req.target, "nothing to finish")?;
    let state = client.query(
        "reading the sync state",
        "SELECT primary_side FROM lite2pg.sync_state WHERE target_schema = $1",
        &[&req.schema],
    )?;
    let primary: String = state.first().map(|r| r.get(0)).ok_or_else(|| {
        Error::Usage(format!(
            "schema {} is not being synced: nothing to finish",
            quote_ident(&req.schema)
        ))
    })?;
    // SQLite: every trigger and table lite2pg made.
    let mut sqlite = open_writable(&req.source)?;
    cap::disarm(&mut sqlite).map_err(sqlite_err(&req.source, "removing capture"))?;
    // PostgreSQL: lite2pg's triggers on the schema's tables, then its state.
    let triggers = client.query(
        "finding lite2pg's triggers",
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND NOT t.tgisinternal AND t.tgname LIKE '\\_lite2pg\\_%'",
        &[&req.schema],
    )?;
    let mut sql = String::from("BEGIN;\n");
    for t in &triggers {
        sql.push_str(&format!(
            "DROP TRIGGER IF EXISTS {} ON {};\n",
            quote_ident(&t.get::<_, String>(0)),
            qualified(&req.schema, &t.get::<_, String>(1))
        ));
    }
    client.batch_execute("removing lite2pg's triggers", &sql)?;
    for table in [
        "sync_state",
        "pg_changes",
        "sync_rejects",
        "sync_events",
        "sync_touched_keys",
    ] {
        client.query(
            "removing the sync state",
            &format!(
                "DELETE FROM lite2pg.{} WHERE target_schema = $1",
                quote_ident(table)
            ),
            &[&req.schema],
        )?;
    }
    let others: i64 = client
        .query(
            "looking for other lite2pg work in this database",
            "SELECT (SELECT count(*) FROM lite2pg.sync_state) + \
                    (SELECT count(*) FROM lite2pg.runs WHERE target_schema <> $1)",
            &[&req.schema],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(1);
    let syncing: i64 = client
        .query(
            "looking for other syncs in this database",
            "SELECT count(*) FROM lite2pg.sync_state",
            &[],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(1);
    if syncing == 0 {
        client.batch_execute(
            "removing lite2pg's trigger functions",
            "DROP FUNCTION IF EXISTS lite2pg.capture(); DROP FUNCTION IF EXISTS lite2pg.guard()",
        )?;
    }
    client.batch_execute("committing", "COMMIT")?;
    let control = if others == 0 {
        // Nothing else of lite2pg's is here: the control schema goes too.
        crate::pg::control::drop_control_schema(&mut client)?;
        "the control schema lite2pg (with its run history) removed"
    } else {
        "the control schema lite2pg kept: it records other schemas' runs"
    };
    crate::output::write(
        None,
        &format!(
            "lite2pg finish: capture removed from both sides; {primary} is the primary and \
             stays as it is, the other side is an untouched copy; {control}\n"
        ),
    )?;
    Ok(0)
}

/// `lite2pg rollback --run ID` (before any cutover): removes exactly the tables, views,
/// schema and extension run `ID` created, as recorded in `lite2pg.objects`.
pub fn rollback_run(target: &TargetChoice, run: &str) -> Result<i32> {
    let client = connect_to_control(target, "no run to roll back")?;
    let rows = client.query(
        "reading the run",
        "SELECT target_schema, status FROM lite2pg.runs WHERE id::text = $1",
        &[&run],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Usage(format!("no run {run} is recorded in {}", client.target())))?;
    let schema: String = row.get(0);
    let status: String = row.get(1);
    if status == "rolled_back" {
        crate::output::write(None, &format!("run {run} was rolled back already\n"))?;
        return Ok(0);
    }
    let cut: bool = client
        .query(
            "reading the sync state",
            "SELECT count(*) > 0 FROM lite2pg.sync_state WHERE target_schema = $1 \
             AND primary_side = 'postgresql'",
            &[&schema],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if cut {
        return Err(Error::Usage(format!(
            "schema {} was cut over: PostgreSQL is the primary and holds the application's \
             writes; `lite2pg rollback` switches back without dropping anything",
            quote_ident(&schema)
        )));
    }
    let objects = client.query(
        "reading what the run created",
        "SELECT object FROM lite2pg.objects WHERE run_id::text = $1 AND phase IN ('schema', 'views') \
         ORDER BY seq DESC",
        &[&run],
    )?;
    let (mut views, mut tables, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for o in &objects {
        let object: String = o.get(0);
        if let Some(name) = object.strip_prefix("view ").and_then(unquote) {
            views.push(qualified(&schema, &name));
        } else if let Some(name) = object.strip_prefix("table ").and_then(unquote) {
            tables.push(qualified(&schema, &name));
        } else if let Some(name) = object.strip_prefix("schema ").and_then(unquote) {
            rest.push(format!("DROP SCHEMA IF EXISTS {}", quote_ident(&name)));
        } else if object == "extension citext" {
            rest.push("DROP EXTENSION IF EXISTS citext".into());
        }
    }
    // No CASCADE: an object someone else built on these makes the drop fail, by name.
    let mut sql = String::from("BEGIN;\n");
    if !views.is_empty() {
        sql.push_str(&format!("DROP VIEW IF EXISTS {};\n", views.join(", ")));
    }
    if !tables.is_empty() {
        sql.push_str(&format!("DROP TABLE IF EXISTS {};\n", tables.join(", ")));
    }
    client
        .batch_execute(
            &format!("dropping the tables and views run {run} created"),
            &sql,
        )
        .map_err(|e| match e {
            Error::Postgres {
                context,
                message,
                sqlstate,
            } => Error::Postgres {
                context,
                sqlstate,
                message: format!(
                    "{message}; nothing was dropped: remove what depends on these tables first"
                ),
            },
            other => other,
        })?;
    client.query(
        "marking the run rolled back",
        "UPDATE lite2pg.runs SET status = 'rolled_back', updated_at = now() WHERE id::text = $1",
        &[&run],
    )?;
    // A sync built on these tables has nothing to apply to now: the next `sync` migrates
    // again. Its capture in the SQLite file is not this run's to remove (`finish` does).
    let synced: i64 = client
        .query(
            "detaching the sync from the removed tables",
            "WITH d AS (UPDATE lite2pg.sync_state SET run_id = NULL, updated_at = now() \
             WHERE run_id::text = $1 RETURNING 1) SELECT count(*) FROM d",
            &[&run],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    client.batch_execute("committing", "COMMIT")?;
    let mut kept = Vec::new();
    for stmt in rest {
        // A schema or extension that others use now stays; say so.
        if client.batch_execute("dropping", &stmt).is_err() {
            kept.push(stmt.replace("DROP ", "").replace(" IF EXISTS", ""));
        }
    }
    let mut out = format!(
        "lite2pg rollback --run {run}: dropped {} table(s) and {} view(s) in schema {}\n",
        tables.len(),
        views.len(),
        quote_ident(&schema)
    );
    for k in kept {
        out.push_str(&format!("  kept {k}: something else uses it\n"));
    }
    if synced > 0 {
        out.push_str(
            "  note: `lite2pg sync` was following this run: its capture triggers stay in the \
             SQLite file; `lite2pg sync` migrates again under them, `lite2pg finish` removes them\n",
        );
    }
    crate::output::write(None, &out)?;
    Ok(0)
}

/// Reads a name written by `quote_ident` back.
fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return Some(inner.replace("\"\"", "\""));
    }
    (!s.is_empty() && !s.contains(' ')).then(|| s.to_string())
}
