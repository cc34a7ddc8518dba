//! `lite2pg sync` and `lite2pg status`: arm capture, migrate under it, then keep PostgreSQL
//! in step with the live SQLite file.
//!
//! The order that loses nothing: capture is armed first (every write from then on is
//! logged), then a consistent copy of the file is taken and its log high-water mark read
//! *inside* that copy, the copy is migrated, and the applier replays the log from that mark.
//! A change the copy already holds is replayed harmlessly (the applier writes the current
//! row); a change it lacks is in the log.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::apply::{self, Applier};
use super::reverse::Reverse;
use super::sqlite as cap;
use crate::error::sqlstate::Policy;
use crate::error::{Error, Result};
use crate::migrate::{MigrateRequest, Mode};
use crate::pg::{connect_target, quote_ident, Client, Target, TargetChoice};
use crate::plan::{PgType, Plan, PlanOptions};

/// A validated `sync` request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The live SQLite file.
    pub source: PathBuf,
    /// Where to (a URL or the `PG*` variables; sync never rehearses).
    pub target: TargetChoice,
    /// Translation options for the initial migration.
    pub options: PlanOptions,
    /// Pause between polls of an empty log.
    pub interval: Duration,
    /// Stop when the log is drained.
    pub once: bool,
    /// Migrate again under capture even when the schema holds tables.
    pub replace: bool,
    /// Parallel COPY streams of the initial migration.
    pub jobs: usize,
    /// No progress display.
    pub quiet: bool,
    /// Give up (exit 3) when the server answers no ping for this long.
    pub stall_timeout: Duration,
    /// Benchmarks: append each applied change's age at commit (seconds, one per line) here.
    pub lag_file: Option<PathBuf>,
}

/// The sync state of one target schema, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Target schema.
    pub schema: String,
    /// The SQLite file.
    pub source: String,
    /// `sqlite→pg` or `pg→sqlite`.
    pub direction: String,
    /// `sqlite` or `postgresql`.
    pub primary: String,
    /// The migrate run that created the tables.
    pub run_id: Option<String>,
    /// Last applied SQLite change position.
    pub applied_seq: i64,
    /// Changes waiting to be applied.
    pub pending_changes: i64,
    /// Age of the oldest waiting change, seconds (0 when none wait).
    pub lag_seconds: f64,
    /// Rows written by the applier, forward and back.
    pub applied_rows: i64,
    /// Rows written into SQLite after a cutover.
    pub reverse_rows: i64,
    /// When the applier last committed, RFC 3339.
    pub last_applied_at: Option<String>,
    /// Rows whose current values the applier could not carry.
    pub rejected_rows: i64,
    /// The applier's last error, if it has not succeeded since.
    pub last_error: Option<String>,
    /// When the primary switched to PostgreSQL.
    pub cutover_at: Option<String>,
    /// When it switched back.
    pub rollback_at: Option<String>,
}

/// The state row's values sync needs.
struct State {
    run_id: Option<String>,
    digest: String,
    primary: String,
}

pub(crate) fn control_schema_exists(client: &Client) -> Result<bool> {
    Ok(client
        .query(
            "looking for lite2pg's control schema",
            "SELECT to_regclass('lite2pg.sync_state') IS NOT NULL",
            &[],
        )?
        .first()
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false))
}

fn load_state(client: &Client, schema: &str) -> Result<Option<State>> {
    if !control_schema_exists(client)? {
        return Ok(None);
    }
    let rows = client.query(
        "reading the sync state",
        "SELECT run_id::text, schema_digest, primary_side FROM lite2pg.sync_state \
         WHERE target_schema = $1",
        &[&schema],
    )?;
    Ok(rows.first().map(|r| State {
        run_id: r.get(0),
        digest: r.get(1),
        primary: r.get(2),
    }))
}

/// Takes the session lock that lets one `sync` at a time apply into `schema`.
fn lock_sync(client: &Client, schema: &str) -> Result<()> {
    let got: bool = client
        .query(
            "taking the sync lock",
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&format!("lite2pg-sync:{schema}")],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if !got {
        return Err(Error::Usage(format!(
            "another `lite2pg sync` is applying into schema {} of {}; stop it first (it stops \
             cleanly on SIGINT or SIGTERM)",
            quote_ident(schema),
            client.target()
        )));
    }
    Ok(())
}

/// The plan run `run_id` applied, with the copier's types restored from their SQL.
pub(crate) fn recorded_plan(client: &Client, run_id: &str) -> Result<Plan> {
    let rows = client.query(
        "reading the migration's plan",
        "SELECT plan FROM lite2pg.runs WHERE id::text = $1 AND status = 'done'",
        &[&run_id],
    )?;
    let json: Option<serde_json::Value> = rows.first().and_then(|r| r.get(0));
    let json = json.ok_or_else(|| {
        Error::Refused(format!(
            "run {run_id}, the migration sync started from, has no finished plan in \
             lite2pg.runs: migrate again under capture with `lite2pg sync --replace`"
        ))
    })?;
    let mut plan: Plan = serde_json::from_value(json).map_err(|e| {
        Error::Refused(format!(
            "the plan stored by run {run_id} cannot be read: {e}"
        ))
    })?;
    for t in &mut plan.tables {
        for c in &mut t.columns {
            c.ty = PgType::from_sql(&c.pg_type).ok_or_else(|| {
                Error::Refused(format!(
                    "the plan stored by run {run_id} gives column {}.{} a type sync does not \
                     know ({})",
                    quote_ident(&t.target),
                    quote_ident(&c.target),
                    c.pg_type
                ))
            })?;
        }
    }
    Ok(plan)
}

/// How often a step that met a transient conflict is run again before sync stops.
const MAX_RETRIES: u32 = 5;

/// Opens the live SQLite file to write lite2pg's own objects (triggers, the log).
pub(crate) fn open_writable(path: &std::path::Path) -> Result<rusqlite::Connection> {
    crate::sqlite::open::open_live(path, false)
}

pub(crate) fn sqlite_err<'a>(
    path: &'a std::path::Path,
    what: &str,
) -> impl Fn(rusqlite::Error) -> Error + 'a {
    let what = what.to_string();
    move |e| crate::sqlite::open::classify_in(path, &what, &e)
}

/// Arms capture, takes the consistent copy, records the state, and migrates the copy.
/// Returns the migrate run's id.
fn initial_migration(req: &SyncRequest, client: &mut Client, restart: bool) -> Result<String> {
    let schema_name = &req.options.schema;
    let mut live = open_writable(&req.source)?;
    let src = crate::sqlite::open_source(&req.source)?;
    let schema = crate::sqlite::introspect::introspect(&src)?;
    drop(src);
    let tables = apply::capture_tables(&schema);
    cap::arm(&mut live, &tables).map_err(sqlite_err(&req.source, "arming change capture"))?;
    let dir = tempfile::tempdir()
        .map_err(|e| Error::io("creating a temporary directory for the snapshot copy", e))?;
    let copy = dir.path().join("snapshot.db");
    let took = crate::sqlite::open::backup_to(&req.source, &copy)?;
    let snapshot = rusqlite::Connection::open(&copy).map_err(sqlite_err(&copy, "opening"))?;
    let high_water =
        cap::high_water(&snapshot).map_err(sqlite_err(&copy, "reading the log's high-water"))?;
    let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    let digest =
        apply::schema_digest(&snapshot, &names).map_err(sqlite_err(&copy, "reading the schema"))?;
    drop(snapshot);
    if !req.quiet {
        eprintln!(
            "lite2pg: capture armed on {} table(s); consistent copy taken in {:.2} s at change \
             {high_water}",
            tables.len(),
            took.as_secs_f64()
        );
    }
    crate::pg::control::prepare(client)?;
    let source = req.source.display().to_string();
    client.query(
        "recording the sync state",
        "INSERT INTO lite2pg.sync_state (target_schema, source, applied_seq, schema_digest) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (target_schema) DO UPDATE SET source = $2, \
         applied_seq = $3, schema_digest = $4, run_id = NULL, applied_rows = 0, \
         primary_side = 'sqlite', last_error = NULL, updated_at = now()",
        &[schema_name, &source, &high_water, &digest],
    )?;
    let migrate = MigrateRequest {
        source: req.source.clone(),
        target: req.target.clone(),
        options: req.options.clone(),
        jobs: req.jobs,
        tables: Vec::new(),
        exclude: Vec::new(),
        mode: Mode::All,
        resume: false,
        // A copy interrupted earlier is started over: the new snapshot is a different
        // moment, and key ranges copied from two moments could hold a row twice.
        replace: req.replace || restart,
        verify: true,
        reject_file: None,
        reports: Vec::new(),
        quiet: req.quiet,
        stall_timeout: req.stall_timeout,
        source_copy: Some(copy.clone()),
        chunk_rows: crate::copy::CHUNK_ROWS,
    };
    let (report, _) = crate::migrate::migrate_with_report(&migrate)?;
    if report.exit_code != 0 {
        eprintln!(
            "lite2pg: the initial migration finished with findings (see its report above); \
             sync continues, and cutover will refuse until they are dealt with"
        );
    }
    client.query(
        "recording the migration sync started from",
        "UPDATE lite2pg.sync_state SET run_id = $2::text::uuid, updated_at = now() \
         WHERE target_schema = $1",
        &[schema_name, &report.run_id],
    )?;
    Ok(report.run_id)
}

/// Stops the loop on SIGINT or SIGTERM.
fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            flag.store(true, Ordering::SeqCst);
        });
    });
    stop
}

/// What every command of the dual-write period works from: the target, the plan the synced
/// tables were made by, and how each table is applied.
pub(crate) struct Ctx {
    /// The target server.
    pub target: Target,
    /// The live SQLite file.
    pub source: PathBuf,
    /// Target schema.
    pub schema_name: String,
    /// The migration's plan.
    pub plan: Plan,
    /// How each table is applied.
    pub specs: Vec<apply::TableSpec>,
    /// Tables whose changes cannot be captured (virtual tables), compared whole at switches.
    pub unsynced: Vec<String>,
    /// The captured schema's digest.
    pub digest: String,
    /// `sqlite` or `postgresql`.
    pub primary: String,
    /// SQLite's capture of the synced tables (what triggers log).
    capture: Vec<cap::CaptureTable>,
}

impl Ctx {
    /// Reads the state of `schema_name` and the plan it was migrated by.
    pub fn load(
        target: Target,
        source: &std::path::Path,
        schema_name: &str,
    ) -> Result<(Ctx, Client)> {
        let client = connect_target(&target)?;
        let state = load_state(&client, schema_name)?.ok_or_else(|| {
            Error::Usage(format!(
                "schema {} is not being synced: start with `lite2pg sync {} --to URL`",
                quote_ident(schema_name),
                source.display()
            ))
        })?;
        let run_id = state.run_id.ok_or_else(|| {
            Error::Usage(format!(
                "the initial migration of schema {} under sync has not finished: run `lite2pg \
                 sync` until it has",
                quote_ident(schema_name)
            ))
        })?;
        let plan = recorded_plan(&client, &run_id)?;
        let src = crate::sqlite::open_source(source)?;
        let schema = crate::sqlite::introspect::introspect(&src)?;
        drop(src);
        let apply::Specs { specs, unsynced } = apply::specs(&plan, &schema)?;
        let synced: std::collections::HashSet<&str> =
            specs.iter().map(|s| s.source.as_str()).collect();
        let capture = apply::capture_tables(&schema)
            .into_iter()
            .filter(|t| synced.contains(t.name.as_str()))
            .collect();
        Ok((
            Ctx {
                target,
                source: source.to_path_buf(),
                schema_name: schema_name.to_string(),
                plan,
                specs,
                unsynced,
                digest: state.digest,
                primary: state.primary,
                capture,
            },
            client,
        ))
    }

    /// A forward applier (SQLite → PostgreSQL) on a connection of its own.
    pub fn forward(&self) -> Result<Applier> {
        let client = connect_target(&self.target)?;
        let reader = crate::sqlite::open::open_live(&self.source, true)?;
        Applier::new(
            client,
            reader,
            &self.schema_name,
            self.specs.clone(),
            self.digest.clone(),
        )
    }

    /// A reverse applier (PostgreSQL → SQLite) on a connection of its own.
    pub fn reverse(&self) -> Result<Reverse> {
        let client = connect_target(&self.target)?;
        let writer = open_writable(&self.source)?;
        let blob_uuids = self
            .plan
            .tables
            .iter()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .filter(|c| c.ty == PgType::Uuid && c.storage.blob > c.storage.text)
                    .map(move |c| (t.target.clone(), c.target.clone()))
            })
            .collect();
        Reverse::new(
            client,
            writer,
            &self.schema_name,
            self.specs.clone(),
            &blob_uuids,
        )
    }

    /// SQLite's capture of the synced tables.
    pub fn capture_tables(&self) -> &[cap::CaptureTable] {
        &self.capture
    }
}

/// The applier a sync process runs: the direction follows the primary.
enum Follower {
    Forward(Box<Applier>),
    Reverse(Box<Reverse>),
}

fn follower(ctx: &Ctx, primary: &str, quiet: bool) -> Result<Follower> {
    if primary == "postgresql" {
        if !quiet {
            eprintln!("lite2pg: PostgreSQL is the primary: applying its changes to SQLite");
        }
        return Ok(Follower::Reverse(Box::new(ctx.reverse()?)));
    }
    let applier = ctx.forward()?;
    if !quiet {
        eprintln!("lite2pg: SQLite is the primary: applying its changes to PostgreSQL");
        if !applier.replica() {
            eprintln!(
                "lite2pg: this role may not set session_replication_role: foreign keys are \
                 deferred to each batch's commit, so a row SQLite let the application write \
                 without its parent stops the applier until the parent arrives"
            );
        }
    }
    Ok(Follower::Forward(Box::new(applier)))
}

/// `lite2pg sync`: returns the exit code.
pub fn sync(req: &SyncRequest) -> Result<i32> {
    let target = req.target.require("sync")?;
    let stop = stop_on_signals();
    let mut client = connect_target(&target)?;
    let schema_name = req.options.schema.clone();
    lock_sync(&client, &schema_name)?;
    let state = load_state(&client, &schema_name)?;
    if let Some(s) = &state {
        if req.replace && s.primary != "sqlite" {
            return Err(Error::Usage(
                "--replace migrates SQLite again, but PostgreSQL is the primary since a cutover: \
                 run `lite2pg rollback` first"
                    .into(),
            ));
        }
    }
    let needs_copy = req.replace || state.as_ref().map_or(true, |s| s.run_id.is_none());
    if needs_copy {
        if state.is_none() && !req.replace {
            refuse_unknown_tables(&client, &schema_name)?;
        }
        let restart = state.is_some();
        let _watchdog = crate::pg::Watchdog::start(
            &target,
            req.stall_timeout,
            "run the same sync command again: the migration starts over under capture",
        );
        initial_migration(req, &mut client, restart)?;
    }
    let (ctx, _state_client) = Ctx::load(target, &req.source, &schema_name)?;
    if !ctx.unsynced.is_empty() && !req.quiet {
        eprintln!(
            "lite2pg: warning: SQLite allows no triggers on virtual tables, so changes to {} \
             are not followed; cutover and rollback compare them whole and refuse if they differ",
            ctx.unsynced
                .iter()
                .map(|t| quote_ident(t))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut current = follower(&ctx, &ctx.primary, req.quiet)?;
    let trimmer = open_writable(&req.source)?;
    // Benchmarks: each applied change's age at commit, one line of seconds per change.
    let mut lag_file = match &req.lag_file {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| Error::io(format!("opening the lag file {}", p.display()), e))?,
        ),
        None => None,
    };
    let mut last_trim = Instant::now();
    let mut applied_total = 0u64;
    let started = Instant::now();
    // A step is one transaction on each side (the applier contract), so a step that lost a
    // deadlock or a serialization conflict is simply run again.
    let mut retries = 0;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let (changes, switch_to) = match &mut current {
            Follower::Forward(applier) => match applier.step(apply::BATCH) {
                Ok(None) => (0, Some("postgresql")),
                Ok(Some(batch)) => {
                    applied_total += batch.rows_written + batch.rows_deleted;
                    if let Some(f) = lag_file.as_mut() {
                        write_lags(f, &batch.made_at)?;
                    }
                    if batch.changes > 0 && !req.quiet {
                        eprintln!(
                            "lite2pg: applied {} change(s) up to {}: {} row(s) written, {} deleted{}",
                            batch.changes,
                            batch.last_seq,
                            batch.rows_written,
                            batch.rows_deleted,
                            if batch.rejected > 0 {
                                format!(", {} not carried (see lite2pg status)", batch.rejected)
                            } else {
                                String::new()
                            }
                        );
                    }
                    if batch.changes > 0 && last_trim.elapsed() > Duration::from_secs(1) {
                        // Best effort: a busy writer only delays the trim.
                        let _ = trimmer.execute(
                            &format!("DELETE FROM {} WHERE seq <= ?1", cap::CHANGES),
                            [batch.last_seq],
                        );
                        last_trim = Instant::now();
                    }
                    (batch.changes, None)
                }
                Err(e) if e.policy() == Policy::Retry && retries < MAX_RETRIES => {
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(50 << retries));
                    continue;
                }
                Err(e) => {
                    record_error(applier.client(), &schema_name, &e.to_string());
                    return Err(e);
                }
            },
            Follower::Reverse(rev) => match rev.step(apply::BATCH) {
                Ok(None) => (0, Some("sqlite")),
                Ok(Some(batch)) => {
                    applied_total += batch.rows_written + batch.rows_deleted;
                    if batch.changes > 0 && !req.quiet {
                        eprintln!(
                            "lite2pg: applied {} PostgreSQL change(s) to SQLite: {} row(s) \
                             written, {} deleted",
                            batch.changes, batch.rows_written, batch.rows_deleted
                        );
                    }
                    (batch.changes, None)
                }
                Err(e) if e.policy() == Policy::Retry && retries < MAX_RETRIES => {
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(50 << retries));
                    continue;
                }
                Err(e) => {
                    record_error(rev.client(), &schema_name, &e.to_string());
                    return Err(e);
                }
            },
        };
        retries = 0;
        if let Some(primary) = switch_to {
            current = follower(&ctx, primary, req.quiet)?;
            continue;
        }
        if changes == 0 {
            if req.once {
                break;
            }
            let until = Instant::now() + req.interval;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20).min(req.interval));
            }
        }
    }
    if !req.quiet {
        eprintln!(
            "lite2pg: sync stopped cleanly after {:.1} s ({applied_total} row(s) applied); run \
             it again to continue from the last applied change",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}

fn write_lags(f: &mut std::fs::File, made_at: &[f64]) -> Result<()> {
    use std::io::Write;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut text = String::with_capacity(made_at.len() * 10);
    for at in made_at {
        text.push_str(&format!("{:.4}\n", now - apply::julian_to_unix(*at)));
    }
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io("writing the lag file", e))
}

pub(crate) fn record_error(client: &mut Client, schema: &str, message: &str) {
    let _ = client.batch_execute("rolling back", "ROLLBACK");
    let _ = client.query(
        "recording the applier's error",
        "UPDATE lite2pg.sync_state SET last_error = $2, error_at = now(), updated_at = now() \
         WHERE target_schema = $1",
        &[&schema, &message],
    );
}

/// A schema that already holds tables from a migration made without capture cannot be
/// synced: the changes since are unknown.
fn refuse_unknown_tables(client: &Client, schema: &str) -> Result<()> {
    let rows = client.query(
        "looking for tables in the target schema",
        "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
        &[&schema],
    )?;
    let n: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
    if n > 0 {
        return Err(Error::Usage(format!(
            "schema {} already holds {n} table(s), not migrated by sync: the changes made since \
             are unknown. Run `lite2pg sync --replace` to migrate again under capture",
            quote_ident(schema)
        )));
    }
    Ok(())
}

/// A validated `status` request.
#[derive(Debug, Clone)]
pub struct StatusRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// Where to.
    pub target: TargetChoice,
    /// Target schema.
    pub schema: String,
    /// Print JSON instead of text.
    pub json: bool,
}

/// A connection to a target that has lite2pg's control schema (else a usage error ending
/// with `otherwise`).
pub(crate) fn connect_to_control(target: &TargetChoice, otherwise: &str) -> Result<Client> {
    let client = connect_target(&target.require("this command")?)?;
    if !control_schema_exists(&client)? {
        return Err(Error::Usage(format!(
            "{} has no lite2pg control schema: {otherwise}",
            client.target()
        )));
    }
    Ok(client)
}

/// Reads the sync state of a schema.
pub fn status_of(req: &StatusRequest) -> Result<Status> {
    let client = connect_to_control(&req.target, "nothing is being synced there")?;
    let rows = client.query(
        "reading the sync state",
        "SELECT source, primary_side, run_id::text, applied_seq, applied_rows, reverse_rows, \
                to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
                last_error, \
                to_char(cutover_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                to_char(rollback_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                (SELECT count(*) FROM lite2pg.sync_rejects r WHERE r.target_schema = s.target_schema), \
                (SELECT count(*) FROM lite2pg.pg_changes c WHERE c.target_schema = s.target_schema), \
                coalesce((SELECT extract(epoch FROM clock_timestamp() - min(c.at))::float8 \
                          FROM lite2pg.pg_changes c WHERE c.target_schema = s.target_schema), 0) \
         FROM lite2pg.sync_state s WHERE target_schema = $1",
        &[&req.schema],
    )?;
    let r = rows.first().ok_or_else(|| {
        Error::Usage(format!(
            "schema {} is not being synced (no `lite2pg sync` has started there)",
            quote_ident(&req.schema)
        ))
    })?;
    let primary: String = r.get(1);
    let applied_seq: i64 = r.get(3);
    let (pending, lag) = if primary == "sqlite" {
        let src = crate::sqlite::open_source(&req.source)?;
        let (n, oldest) = cap::pending(&src.conn, applied_seq)
            .map_err(sqlite_err(&req.source, "reading the change log"))?;
        let now: f64 = src
            .conn
            .query_row("SELECT julianday('now')", [], |r| r.get(0))
            .map_err(sqlite_err(&req.source, "reading the clock"))?;
        (
            n,
            oldest
                .map(|o| ((now - o) * 86_400.0).max(0.0))
                .unwrap_or(0.0),
        )
    } else {
        (r.get(11), r.get(12))
    };
    Ok(Status {
        schema: req.schema.clone(),
        source: r.get(0),
        direction: if primary == "sqlite" {
            "sqlite→pg".into()
        } else {
            "pg→sqlite".into()
        },
        primary,
        run_id: r.get(2),
        applied_seq,
        pending_changes: pending,
        lag_seconds: lag,
        applied_rows: r.get(4),
        reverse_rows: r.get(5),
        last_applied_at: r.get(6),
        rejected_rows: r.get(10),
        last_error: r.get(7),
        cutover_at: r.get(8),
        rollback_at: r.get(9),
    })
}

/// `lite2pg status`: prints the state; exit 0, or 1 when the applier's last batch failed or
/// rows wait that it cannot carry.
pub fn status(req: &StatusRequest) -> Result<i32> {
    let s = status_of(req)?;
    let text = if req.json {
        serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"
    } else {
        render_status(&s)
    };
    crate::output::write(None, &text)?;
    Ok(if s.last_error.is_some() || s.rejected_rows > 0 {
        1
    } else {
        0
    })
}

fn render_status(s: &Status) -> String {
    let mut out = format!(
        "schema {}  ({})\n  primary:          {}\n  direction:        {}\n  pending changes:  {}\n  \
         lag:              {:.1} s\n  applied rows:     {} forward, {} back\n  last applied at:  {}\n",
        quote_ident(&s.schema),
        s.source,
        s.primary,
        s.direction,
        s.pending_changes,
        s.lag_seconds,
        s.applied_rows,
        s.reverse_rows,
        s.last_applied_at.as_deref().unwrap_or("never"),
    );
    if let Some(t) = &s.cutover_at {
        out.push_str(&format!("  cutover at:       {t}\n"));
    }
    if let Some(t) = &s.rollback_at {
        out.push_str(&format!("  rolled back at:   {t}\n"));
    }
    if s.rejected_rows > 0 {
        out.push_str(&format!(
            "  not carried:      {} row(s) (lite2pg.sync_rejects lists them; fix them in SQLite \
             and sync carries them)\n",
            s.rejected_rows
        ));
    }
    if let Some(e) = &s.last_error {
        out.push_str(&format!("  last error:       {e}\n"));
    }
    out
}
