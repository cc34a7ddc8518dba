//! `lite2pg migrate`: the one-shot migration, phase by phase, resumable.
//!
//! 1. plan (profile + translate, test-applied on the target), run lock, control schema;
//! 2. tables without keys, indexes or foreign keys;
//! 3. data, by the streaming copier (`copy`), chunk by chunk; meanwhile 4. each table's
//!    keys, indexes and `ANALYZE` on a pool of connections as soon as its rows are in
//!    (`builds`), keys attached after the copy;
//! 5. foreign keys `NOT VALID`, then validated; 6. views; identity restarts;
//! 7. verification: every row compared by the checksum validator (`verify`);
//!
//! then the run report and the reject file. With no target at all, the same run goes into a
//! throwaway PostgreSQL that is removed afterwards: a rehearsal.

mod adopt;
mod app_triggers;
mod bookkeeping;
mod builds;
mod held;
mod jobs;
mod phases;
mod rejects;
mod run_report;
mod start;
mod undo;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use uuid::Uuid;

use crate::copy::{self, Progress};
use crate::embedded::EmbeddedPg;
use crate::error::{Error, Result};
use crate::model::Schema;
use crate::pg::{connect_target, control, qualified, quote_ident, Client, Target, TargetChoice};
use crate::plan::{Plan, PlanOptions};
use crate::sqlite::Source;
use crate::translate::{load_from, plan_checked};
use crate::verify::{Fused, FusedDigests, Hashing};
use run_report::PhaseTiming;
pub use run_report::{ForeignKeyReport, RunReport};
pub use undo::rollback_run;

/// Which parts of the migration run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Schema and data.
    All,
    /// DDL only.
    SchemaOnly,
    /// Data only, into tables that exist.
    DataOnly,
}

/// A validated `migrate` request.
#[derive(Debug, Clone)]
pub struct MigrateRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// Where to.
    pub target: TargetChoice,
    /// Translation options (schema, identifiers, type conflicts).
    pub options: PlanOptions,
    /// Parallel COPY streams and index builds.
    pub jobs: usize,
    /// Only tables matching these globs (SQLite names); empty: all.
    pub tables: Vec<String>,
    /// Leave out tables matching these globs.
    pub exclude: Vec<String>,
    /// Which parts run.
    pub mode: Mode,
    /// Continue the newest unfinished run into this schema.
    pub resume: bool,
    /// Drop tables and views of the same names first.
    pub replace: bool,
    /// Verify at the end.
    pub verify: bool,
    /// Where rejected rows are listed (default: `<source stem>.rejects.jsonl`).
    pub reject_file: Option<PathBuf>,
    /// Report files (`.json`, `.md`).
    pub reports: Vec<PathBuf>,
    /// No progress display.
    pub quiet: bool,
    /// Give up (exit 3) when the server answers no ping for this long.
    pub stall_timeout: std::time::Duration,
    /// A consistent copy of `source` to read instead of the file itself (`sync` takes one
    /// right after arming capture); `None`: read the file as `migrate` does.
    pub source_copy: Option<PathBuf>,
    /// Rows per COPY chunk at most ([`copy::CHUNK_ROWS`]; tests lower it).
    pub chunk_rows: u64,
    /// The source's time zone: how date-times without an offset are read into
    /// `timestamptz` columns of an adopted schema (`--source-timezone`).
    pub source_zone: crate::plan::SourceZone,
    /// With `--data-only`: empty target tables that hold rows already (`--truncate`).
    pub truncate: bool,
}

/// The default number of parallel streams: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// `lite2pg migrate`: returns 0 when everything was copied and verified, 1 with findings.
pub fn migrate(req: &MigrateRequest) -> Result<i32> {
    let (report, _) = migrate_with_report(req)?;
    Ok(report.exit_code)
}

/// Runs a migration and returns its report (also printed and written as asked).
pub fn migrate_with_report(req: &MigrateRequest) -> Result<(RunReport, Option<Plan>)> {
    let mut rehearsal: Option<EmbeddedPg> = None;
    let target = match req.target.resolve() {
        Some(target) => target?,
        None => {
            eprintln!(
                "lite2pg: no target given (--to, DATABASE_URL or PG* variables): rehearsing \
                 on a throwaway local PostgreSQL"
            );
            let pg = EmbeddedPg::start()?;
            let admin = crate::pg::connect(&pg.url("postgres"))?;
            admin.batch_execute(
                "creating the rehearsal database",
                "CREATE DATABASE lite2pg_rehearsal",
            )?;
            let t = Target::parse(&pg.url("lite2pg_rehearsal"))?;
            rehearsal = Some(pg);
            t
        }
    };
    let _watchdog = crate::pg::Watchdog::start(
        &target,
        req.stall_timeout,
        "what was committed is kept: once the server answers, run the same command with --resume",
    );
    let (mut report, plan) = run(req, &target, rehearsal.is_some())?;
    if rehearsal.is_some() {
        report.notes.push(format!(
            "this was a rehearsal: nothing was kept, the throwaway PostgreSQL and its data are \
             removed. To migrate for real: lite2pg migrate {} --to postgres://USER@HOST/DB",
            req.source.display()
        ));
    }
    crate::output::write(None, &run_report::render_text(&report))?;
    for path in &req.reports {
        run_report::write(&report, path).map_err(|e| match e {
            Error::Io { context, source } => Error::Io {
                context: format!(
                    "{context} (the migration itself finished as run {}; its report is also \
                     kept in lite2pg.runs.report of the target)",
                    report.run_id
                ),
                source,
            },
            other => other,
        })?;
    }
    drop(rehearsal);
    Ok((report, Some(plan)))
}

struct Timer {
    phases: Vec<PhaseTiming>,
}

impl Timer {
    fn time<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        crate::failpoint::hit(&format!("phase.{name}"));
        let t = Instant::now();
        let out = f();
        self.phases.push(PhaseTiming {
            name: name.to_string(),
            seconds: t.elapsed().as_secs_f64(),
        });
        out
    }
}

fn run(req: &MigrateRequest, target: &Target, rehearsal: bool) -> Result<(RunReport, Plan)> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut timer = Timer { phases: Vec::new() };
    let display = req.source.display().to_string();
    let src = match &req.source_copy {
        None => crate::sqlite::open_consistent(&req.source)?,
        Some(copy) => crate::sqlite::open::open_copy(copy, &req.source)?,
    };
    let (plan, schema, mut client) = timer.time("plan", || {
        let (mut schema, profiles) = load_from(&src)?;
        crate::model::select_tables(&mut schema, &req.tables, &req.exclude)?;
        let client = connect_target(target)?;
        let mut plan = plan_checked(
            &display,
            &schema,
            &profiles,
            &req.options,
            &client,
            target.display(),
        )?;
        if req.mode == Mode::DataOnly {
            adopt::adopt(
                &client,
                &mut plan,
                &profiles,
                adopt::Adopting {
                    exclude: &req.exclude,
                    source_zone: req.source_zone,
                    truncate: req.truncate,
                    resume: req.resume,
                },
            )?;
            let kept = bookkeeping::reconcile(&client, &src.conn, &mut plan)?;
            plan.findings
                .extend(kept.into_iter().map(|message| crate::plan::Finding {
                    severity: crate::plan::Severity::Info,
                    code: "framework.bookkeeping".into(),
                    object: "framework".into(),
                    message,
                    sql: None,
                }));
        }
        Ok((plan, schema, client))
    })?;
    let schema_name = plan.options.schema.clone();
    control::lock_and_prepare(&mut client, &schema_name)?;

    let (run_id, resumed) = start::begin(req, &client, &plan, target, &display)?;

    let job = Job {
        req,
        src: &src,
        target,
        plan: &plan,
        schema: &schema,
        run_id,
    };
    let outcome = run_phases(&job, &mut client, &mut timer).map(|ran| {
        run_report::assemble(
            run_report::Run {
                id: run_id,
                source: &req.source,
                target,
                plan: &plan,
                rehearsal,
                resumed,
            },
            ran,
        )
    });
    match outcome {
        Ok(mut report) => {
            report.started_at = crate::sqlite::temporal::rfc3339(started_at);
            report.duration_s = started.elapsed().as_secs_f64();
            report.phases = timer.phases;
            let json = serde_json::to_value(&report).ok();
            control::finish_run(&client, run_id, "done", None, json.as_ref())?;
            Ok((report, plan))
        }
        Err(e) => {
            let _ = control::finish_run(&client, run_id, "failed", Some(&e.to_string()), None);
            Err(match e {
                Error::Connect { target, problem } => Error::Connect {
                    target,
                    problem: format!(
                        "{problem}; committed work is kept: when the server is back, run the \
                         same command with --resume"
                    ),
                },
                Error::Io { context, source } => Error::Io {
                    context: format!(
                        "{context} (the migrated data is committed and consistent; fix this, \
                         then run the same command with --resume to finish)"
                    ),
                    source,
                },
                other => other,
            })
        }
    }
}

/// Pauses (`on == false`) or restores autovacuum on the tables this run creates.
///
/// An autovacuum worker that starts on a table while its rows stream in holds a lock the
/// index builds and `ADD CONSTRAINT` must wait for until `deadlock_timeout` cancels it:
/// on the benchmark a second per table, and work thrown away. The run's own `ANALYZE`
/// does what autovacuum would; the options are reset when the run finishes (a resumed run
/// resets them too), leaving the tables with PostgreSQL's defaults.
fn autovacuum(client: &mut Client, plan: &Plan, on: bool) -> Result<()> {
    let mut sql = String::new();
    for t in &plan.tables {
        let table = qualified(&plan.options.schema, &t.target);
        if on {
            sql.push_str(&format!(
                "ALTER TABLE {table} RESET (autovacuum_enabled, toast.autovacuum_enabled);\n"
            ));
        } else {
            sql.push_str(&format!(
                "ALTER TABLE {table} SET (autovacuum_enabled = off, toast.autovacuum_enabled = off);\n"
            ));
        }
    }
    if sql.is_empty() {
        return Ok(());
    }
    let what = if on {
        "restoring autovacuum on the migrated tables"
    } else {
        "pausing autovacuum on the tables being loaded"
    };
    client.batch_execute(what, &sql)
}

/// What one run works on, passed to each phase.
struct Job<'a> {
    req: &'a MigrateRequest,
    src: &'a Source,
    target: &'a Target,
    plan: &'a Plan,
    schema: &'a Schema,
    run_id: Uuid,
}

/// What the phases produced, for the run report.
pub(crate) struct Ran {
    /// Things worth knowing (snapshot copies, objects that existed already).
    pub notes: Vec<String>,
    /// Findings raised while running (refused objects, orphans).
    pub findings: Vec<crate::plan::Finding>,
    /// Each foreign key's outcome.
    pub fk_reports: Vec<ForeignKeyReport>,
    /// Copy totals by target table.
    pub totals: HashMap<String, control::CopyTotals>,
    /// The verification's tables and schema differences, when it ran.
    pub verification: Option<(
        Vec<crate::verify::TableVerify>,
        Vec<crate::verify::report::SchemaFinding>,
    )>,
    /// Where the rejected rows were written, when there were any.
    pub reject_file: Option<String>,
}

/// Runs every phase the request's mode asks for, in order: schema, data with the index
/// builds alongside, keys, foreign keys, views, sequences, verification, then the reject
/// file.
fn run_phases(job: &Job<'_>, client: &mut Client, timer: &mut Timer) -> Result<Ran> {
    let (req, plan, run_id) = (job.req, job.plan, job.run_id);
    let done = control::done_steps(client, run_id)?;
    let mut notes: Vec<String> = job.src.snapshot_note.iter().cloned().collect();
    let mut ctx = phases::Ctx {
        client,
        run: run_id,
        done,
        findings: Vec::new(),
    };
    let ddl = &plan.ddl;
    if req.mode != Mode::DataOnly {
        control::set_phase(ctx.client, run_id, "schema")?;
        timer.time("schema", || create_schema(&mut ctx, plan, &mut notes))?;
    }
    // The translator's foreign keys; or, for a --data-only load, the framework's, held for
    // the load and recorded (so a resumed run and `rollback --run` restore them), with its
    // triggers.
    let (foreign_keys, indexes) = if req.mode == Mode::DataOnly {
        held::hold(ctx.client, run_id, plan)?;
        // Emptied once, with the keys held (a table referred to can then be emptied too).
        ctx.run_all("truncate", &ddl.prelude)?;
        (
            held::foreign_keys(ctx.client, run_id)?,
            held::indexes(ctx.client, run_id)?,
        )
    } else {
        (ddl.foreign_keys.clone(), ddl.indexes.clone())
    };
    let (built, fused) = load_data(job, &mut ctx, timer, &indexes)?;
    timer.time("attach keys", || {
        phases::attach_keys(&mut ctx, &indexes, &built)
    })?;
    control::set_phase(ctx.client, run_id, "foreign_keys")?;
    let tables: Vec<(String, &crate::plan::TablePlan)> = plan
        .tables
        .iter()
        .map(|t| (qualified(&plan.options.schema, &t.target), t))
        .collect();
    let fk_reports = timer.time("foreign_keys", || {
        phases::foreign_keys(&mut ctx, &foreign_keys, &tables)
    })?;
    if req.mode == Mode::DataOnly {
        held::release(ctx.client, run_id)?;
    } else {
        control::set_phase(ctx.client, run_id, "views")?;
        timer.time("views", || ctx.run_all("views", &ddl.views))?;
    }
    control::set_phase(ctx.client, run_id, "sequences")?;
    timer.time("sequences", || ctx.run_all("sequences", &ddl.sequences))?;
    // After the data, which already holds what the triggers did in SQLite.
    if !ddl.triggers.is_empty() {
        control::set_phase(ctx.client, run_id, "triggers")?;
        timer.time("triggers", || {
            ctx.run_all("triggers", &ddl.triggers)?;
            app_triggers::disarm_while_sqlite_is_primary(ctx.client, plan)
        })?;
    }

    let totals = control::copy_totals(ctx.client, run_id)?;
    let verification = if req.verify && req.mode != Mode::SchemaOnly {
        control::set_phase(ctx.client, run_id, "verify")?;
        let opts = crate::verify::Options {
            jobs: req.jobs,
            fused: fused.map(Arc::new),
            ..Default::default()
        };
        Some(timer.time("verify", || {
            crate::verify::compare_tables(job.src, plan, job.target, ctx.client, &opts)
        })?)
    } else {
        None
    };
    if let Some((tables, _)) = &verification {
        notes.extend(fused_note(tables));
    }
    // A file read in place without locking must have been one moment throughout.
    job.src.check_unchanged()?;
    // After the verification, which would otherwise share the server with autovacuum
    // workers starting on every freshly loaded table.
    if req.mode != Mode::DataOnly {
        autovacuum(ctx.client, plan, true)?;
    }
    let rows_rejected: i64 = totals.values().map(|t| t.rejected).sum();
    // Values carried cleaned are listed there too.
    let listed = rows_rejected > 0 || crate::pg::control::listed_rejects(ctx.client, run_id)? > 0;
    let reject_file = if listed {
        let path = req
            .reject_file
            .clone()
            .unwrap_or_else(|| default_reject_file(&req.source));
        rejects::write(ctx.client, run_id, &path)?;
        Some(path.display().to_string())
    } else {
        None
    };
    // The framework's own schema is the one its application runs on unchanged: say so,
    // or, loading into it, what became of its migration record.
    let framework_note = |code: &str| {
        (code == "framework.detected" && req.mode != Mode::DataOnly)
            || code == "framework.bookkeeping"
    };
    notes.extend(
        plan.findings
            .iter()
            .filter(|f| framework_note(&f.code))
            .map(|f| f.message.clone()),
    );
    if req.mode == Mode::SchemaOnly {
        notes.push("--schema-only: no data was copied".into());
    }
    if !req.verify {
        notes.push("--no-verify: the rows were not compared".into());
    }
    Ok(Ran {
        notes,
        findings: ctx.findings,
        fk_reports,
        totals,
        verification,
        reject_file,
    })
}

/// Says how much of the verification's SQLite side the copy hashed as it read the rows.
fn fused_note(tables: &[crate::verify::TableVerify]) -> Option<String> {
    let compared: Vec<&crate::verify::TableVerify> =
        tables.iter().filter(|t| t.source_rows.is_some()).collect();
    let hashed = compared.iter().filter(|t| t.source_hashed_in_copy).count();
    if compared.is_empty() {
        return None;
    }
    let again: Vec<&str> = compared
        .iter()
        .filter(|t| !t.source_hashed_in_copy)
        .map(|t| t.name.as_str())
        .collect();
    let mut note = format!(
        "verification: SQLite's side of {hashed} of {} table(s) was hashed as the copy read it",
        compared.len()
    );
    if !again.is_empty() {
        note.push_str(&format!(
            "; read again: {}{}",
            again.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            if again.len() > 5 { ", …" } else { "" }
        ));
    }
    Some(note)
}

/// The schema phase: the prelude (schema, extension) unless it existed already, the
/// tables, and autovacuum paused on them.
fn create_schema(ctx: &mut phases::Ctx<'_>, plan: &Plan, notes: &mut Vec<String>) -> Result<()> {
    // A schema or extension that was there before is not this run's to record (a later
    // `rollback --run` must not drop it).
    let mut prelude = Vec::new();
    for s in &plan.ddl.prelude {
        if start::already_there(ctx.client, s)? {
            notes.push(format!("{} existed already; left as it was", s.object));
        } else {
            prelude.push(s.clone());
        }
    }
    ctx.run_all("schema", &prelude)?;
    ctx.run_all("schema", &plan.ddl.tables)?;
    autovacuum(ctx.client, plan, false)
}

/// The data phase: the build pool starts each table's indexes as soon as its rows are all
/// in, while the copier streams every table; returns the builds once all are done, and the
/// verification's SQLite side when the copy hashed it.
fn load_data(
    job: &Job<'_>,
    ctx: &mut phases::Ctx<'_>,
    timer: &mut Timer,
    index_stmts: &[crate::plan::Statement],
) -> Result<(Vec<builds::Built>, Option<FusedDigests>)> {
    let (req, plan) = (job.req, job.plan);
    let mut hashing: Option<Hashing> = None;
    let sizes: HashMap<String, u64> = plan
        .tables
        .iter()
        .map(|t| (qualified(&plan.options.schema, &t.target), t.rows))
        .collect();
    // citext compares by lower-casing both sides: on the benchmark a citext key costs about
    // 20 times a bigint key per row, so such builds start first.
    let cost = |table: &str, sql: &str| -> u64 {
        let rows = sizes.get(table).copied().unwrap_or(0);
        let citext = plan.tables.iter().any(|t| {
            qualified(&plan.options.schema, &t.target) == table
                && t.columns.iter().any(|c| {
                    c.ty == crate::plan::PgType::Citext && sql.contains(&quote_ident(&c.target))
                })
        });
        if citext {
            rows * 20
        } else {
            rows
        }
    };
    let analyze: Vec<String> = if req.mode == Mode::SchemaOnly {
        Vec::new()
    } else {
        sizes.keys().cloned().collect()
    };
    let work = builds::plan_builds(index_stmts, &analyze, &cost, &ctx.done);
    // Per table, build work per row copied: tables whose builds cost most for their size
    // are copied first, so their builds overlap the copy of the others.
    let mut build_cost: HashMap<String, u64> = HashMap::new();
    for b in &work {
        *build_cost.entry(b.table.clone()).or_default() += b.cost;
    }
    let pool = builds::Pool::start(job.target, job.run_id, req.jobs, work);
    if req.mode != Mode::SchemaOnly {
        control::set_phase(ctx.client, job.run_id, "data")?;
        let done_chunks = control::done_chunks(ctx.client, job.run_id)?;
        let mut jobs = jobs::jobs_for(plan, job.schema, &done_chunks)?;
        jobs.sort_by_key(|j| {
            let rows = sizes.get(&j.qualified).copied().unwrap_or(0).max(1);
            let cost = build_cost.get(&j.qualified).copied().unwrap_or(0);
            std::cmp::Reverse(cost.saturating_mul(16) / rows)
        });
        // Tables already complete (a resumed run) can be built on at once.
        for table in sizes.keys() {
            if !jobs.iter().any(|j| &j.qualified == table) {
                pool.ready(table);
            }
        }
        let names: Vec<String> = jobs.iter().map(|j| j.qualified.clone()).collect();
        let ready = pool.readier();
        let progress = Arc::new(Progress::new(
            jobs.iter()
                .map(|j| {
                    let rows = sizes.get(&j.qualified).copied().unwrap_or(0);
                    (j.target.clone(), rows)
                })
                .collect(),
            Some(Box::new(move |i| {
                if let Some(t) = names.get(i) {
                    ready(t);
                }
            })),
        ));
        // The verification's SQLite side, hashed as the copy reads the rows.
        let tap = if req.verify {
            let (tap, h) = Fused::prepare(job.src, plan, ctx.client, &jobs)?.start()?;
            hashing = Some(h);
            Some(tap)
        } else {
            None
        };
        let copied = timer.time("data", || {
            let display = progress.display(req.quiet);
            let out = job.src.reopen().and_then(|conn| {
                let from = copy::ReadFrom {
                    conn,
                    path: req.source.clone(),
                    tap,
                };
                copy::run(
                    from,
                    jobs,
                    job.target,
                    job.run_id,
                    copy::Settings {
                        workers: req.jobs,
                        chunk_rows: req.chunk_rows,
                    },
                    progress.clone(),
                )
            });
            display.finish();
            out
        });
        if let Err(e) = copied {
            // Builds already running finish and stay recorded; the copy's error is the news.
            let _ = pool.finish(false);
            return Err(e);
        }
    }
    control::set_phase(ctx.client, job.run_id, "indexes")?;
    let built = timer.time("indexes", || pool.finish(true))?;
    // The reader has ended and dropped its tap: the hashing thread finishes.
    Ok((built, hashing.and_then(Hashing::finish)))
}

fn default_reject_file(source: &Path) -> PathBuf {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "lite2pg".into());
    PathBuf::from(format!("{stem}.rejects.jsonl"))
}
