//! `lite2pg sync`: arm capture, migrate under it, then keep the side that is not the primary
//! in step with the one that is, until SIGINT or SIGTERM.
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

use super::applied::Applied;
use super::applier::{Applier, BATCH};
use super::backoff::{back_off, say_gave_up, say_reconnected};
use super::context::{load_state, lock_sync, open_writable, sqlite_err, Ctx};
use super::forward::Forward;
use super::journal::{Journal, Level, LogFormat};
use super::outage::{reconnect, BusyWait, FileIdentity};
use super::pg_log as capg;
use super::process::{self, State};
use super::reverse::Reverse;
use super::settle::settle;
use super::spec;
use super::sqlite_log as cap;
use super::Side;
use crate::error::sqlstate::Policy;
use crate::error::{Error, Result};
use crate::migrate::{MigrateRequest, Mode};
use crate::pg::{connect_target, quote_ident, Client, Target, TargetChoice};
use crate::plan::PlanOptions;

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
    /// Load into the schema the application's framework made (`migrate --data-only`),
    /// and write back in the forms the application used (docs/frameworks.md).
    pub data_only: bool,
    /// The source's time zone (`--source-timezone`).
    pub source_zone: crate::plan::SourceZone,
    /// How long to keep reconnecting after a lost connection before giving up (exit 3);
    /// `None`: as long as the SQLite file is there.
    pub retry_for: Option<Duration>,
    /// A line per applied batch, not only the periodic summary.
    pub verbose: bool,
    /// How often the summary line is written.
    pub status_interval: Duration,
    /// Text lines or JSON lines.
    pub log_format: LogFormat,
    /// Append the log here instead of standard error (SIGHUP reopens it).
    pub log_file: Option<PathBuf>,
    /// How long applied changes stay in SQLite's log, to be applied again to a standby
    /// promoted after a failover that had not received them.
    pub log_retention: Duration,
}

/// How often a step that met a transient conflict is run again before sync stops.
const MAX_RETRIES: u32 = 5;

/// Arms capture, takes the consistent copy, records the state, and migrates the copy.
/// Returns the migrate run's id.
fn initial_migration(
    req: &SyncRequest,
    client: &mut Client,
    restart: bool,
    log: &mut Journal,
) -> Result<String> {
    let schema_name = &req.options.schema;
    let mut live = open_writable(&req.source)?;
    let src = crate::sqlite::open_source(&req.source)?;
    let schema = crate::sqlite::introspect::introspect(&src)?;
    drop(src);
    let tables = spec::capture_tables(&schema);
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
        cap::schema_digest(&snapshot, &names).map_err(sqlite_err(&copy, "reading the schema"))?;
    drop(snapshot);
    log.info(
        "armed",
        &format!(
            "capture armed on {} table(s); consistent copy taken in {:.2} s at change \
             {high_water}",
            tables.len(),
            took.as_secs_f64()
        ),
        serde_json::json!({
            "tables": tables.len(),
            "copy_s": took.as_secs_f64(),
            "high_water": high_water,
        }),
    );
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
        mode: if req.data_only {
            Mode::DataOnly
        } else {
            Mode::All
        },
        resume: false,
        // A copy interrupted earlier is started over: the new snapshot is a different
        // moment, and key ranges copied from two moments could hold a row twice.
        // (Into a framework's schema: its tables are emptied, not dropped.)
        replace: !req.data_only && (req.replace || restart),
        verify: true,
        reject_file: None,
        reports: Vec::new(),
        quiet: req.quiet,
        stall_timeout: req.stall_timeout,
        source_copy: Some(copy.clone()),
        chunk_rows: crate::copy::CHUNK_ROWS,
        source_zone: req.source_zone,
        truncate: req.data_only && (req.replace || restart),
    };
    let (report, plan) = crate::migrate::migrate_with_report(&migrate)?;
    if report.exit_code != 0 {
        log.warn(
            "migrated_with_findings",
            "the initial migration finished with findings (see its report above); sync \
             continues, and cutover refuses while rows are rejected or differ",
            serde_json::json!({ "exit_code": report.exit_code }),
        );
    }
    // The digest the applier checks covers the tables it follows: those the plan took
    // (a framework's bookkeeping, compared and kept, is not among them), virtual ones
    // excepted.
    let followed: Vec<String> = plan
        .map(|p| p.tables.into_iter().map(|t| t.source).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| names.contains(t))
        .collect();
    let snapshot = rusqlite::Connection::open(&copy).map_err(sqlite_err(&copy, "opening"))?;
    let digest = cap::schema_digest(&snapshot, &followed)
        .map_err(sqlite_err(&copy, "reading the schema"))?;
    drop(snapshot);
    client.query(
        "recording the migration sync started from",
        "UPDATE lite2pg.sync_state SET run_id = $2::text::uuid, schema_digest = $3, \
         updated_at = now() WHERE target_schema = $1",
        &[schema_name, &report.run_id, &digest],
    )?;
    Ok(report.run_id)
}

/// Stops the loop on SIGINT or SIGTERM; SIGHUP sets `reopen` (the log file is reopened).
fn stop_on_signals(reopen: Arc<AtomicBool>) -> Arc<AtomicBool> {
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
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => break,
                    _ = term.recv() => break,
                    _ = hup.recv() => reopen.store(true, Ordering::SeqCst),
                }
            }
            flag.store(true, Ordering::SeqCst);
        });
    });
    stop
}

/// The applier a sync process runs: the direction follows the primary.
enum Follower {
    Forward(Box<Forward>),
    Reverse(Box<Reverse>),
}

fn follower(ctx: &Ctx, primary: Side, log: &mut Journal) -> Result<Follower> {
    let direction = serde_json::json!({ "primary": primary, "direction": primary.direction() });
    if primary == Side::Postgresql {
        log.info(
            "following",
            "PostgreSQL is the primary: applying its changes to SQLite",
            direction,
        );
        return Ok(Follower::Reverse(Box::new(ctx.reverse()?)));
    }
    let applier = ctx.forward()?;
    log.info(
        "following",
        "SQLite is the primary: applying its changes to PostgreSQL",
        direction,
    );
    if !applier.replica() {
        log.warn(
            "deferred_foreign_keys",
            "this role may not set session_replication_role: foreign keys are deferred to each \
             batch's commit, so a row SQLite let the application write without its parent \
             stops the applier until the parent arrives",
            serde_json::Value::Null,
        );
    }
    Ok(Follower::Forward(Box::new(applier)))
}

/// `lite2pg sync`: returns the exit code.
pub fn sync(req: &SyncRequest) -> Result<i32> {
    let target = req.target.require("sync")?;
    let mut log = Journal::open(req.log_format, req.quiet, req.log_file.clone())?;
    let stop = stop_on_signals(log.reopen_flag());
    let mut client = connect_target(&target)?;
    let schema_name = req.options.schema.clone();
    lock_sync(&client, &schema_name)?;
    let state = load_state(&client, &schema_name)?;
    if let Some(s) = &state {
        if req.replace && s.primary != Side::Sqlite {
            return Err(Error::Usage(
                "--replace migrates SQLite again, but PostgreSQL is the primary since a cutover: \
                 run `lite2pg rollback` first"
                    .into(),
            ));
        }
    }
    let needs_copy = req.replace || state.as_ref().is_none_or(|s| s.run_id.is_none());
    if needs_copy {
        // (A framework's schema holds its tables before anything is loaded, by design.)
        if state.is_none() && !req.replace && !req.data_only {
            refuse_unknown_tables(&client, &schema_name)?;
        }
        let restart = state.is_some();
        let _watchdog = crate::pg::Watchdog::start(
            &target,
            req.stall_timeout,
            "run the same sync command again: the migration starts over under capture",
        );
        initial_migration(req, &mut client, restart, &mut log)?;
    }
    crate::failpoint::hit("sync.migrated");
    let mut lock = Some(client);
    let Some((ctx, _state_client)) = start_up(req, &target, &mut lock, &stop, &mut log)? else {
        return Ok(0);
    };
    if !ctx.unsynced.is_empty() {
        log.warn(
            "not_followed",
            &format!(
                "warning: SQLite allows no triggers on virtual tables, so changes to {} are not \
                 followed; cutover and rollback compare them whole and refuse if they differ",
                ctx.unsynced
                    .iter()
                    .map(|t| quote_ident(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            serde_json::json!({ "tables": ctx.unsynced }),
        );
    }
    follow(req, &ctx, &stop, log)
}

/// Prepares the applier's context, reconnecting (as `follow` does) when the server
/// restarts or fails over meanwhile: sync must survive that at any point once it has
/// migrated, not only while it applies. `lock` is the session holding the sync lock,
/// replaced on each reconnection. `None`: stopped by a signal while reconnecting.
fn start_up(
    req: &SyncRequest,
    target: &Target,
    lock: &mut Option<Client>,
    stop: &AtomicBool,
    log: &mut Journal,
) -> Result<Option<(Ctx, Client)>> {
    let started = Instant::now();
    let mut attempt = 0u32;
    // Where `status` reads that sync is reconnecting, opened at the first loss.
    let mut recorder: Option<(rusqlite::Connection, f64)> = None;
    let schema = &req.options.schema;
    loop {
        match prepare(req, target, lock, log) {
            Ok(ready) => {
                if attempt > 0 {
                    say_reconnected(log, started, attempt);
                }
                return Ok(Some(ready));
            }
            Err(e) if e.is_connection() && !req.once => {
                if recorder.is_none() {
                    recorder = open_writable(&req.source).ok().map(|c| {
                        let since = process::now(&c).unwrap_or(0.0);
                        (c, since)
                    });
                }
                if req
                    .retry_for
                    .is_some_and(|limit| started.elapsed() >= limit)
                {
                    if let Some((conn, _)) = &recorder {
                        process::record(conn, schema, State::Stopped);
                    }
                    say_gave_up(log, started, attempt, &e);
                    return Err(e);
                }
                if let Some((conn, since)) = &recorder {
                    let error = e.to_string();
                    let state = State::Reconnecting {
                        since: *since,
                        attempt,
                        error: &error,
                    };
                    process::record(conn, schema, state);
                }
                let (event, said) = if attempt == 0 {
                    (
                        "connection_lost",
                        format!("connection lost ({e}); reconnecting"),
                    )
                } else {
                    (
                        "reconnecting",
                        format!("reconnecting, attempt {attempt}: {e}"),
                    )
                };
                log.warn(
                    event,
                    &said,
                    serde_json::json!({ "attempt": attempt, "error": e.to_string() }),
                );
                *lock = None;
                attempt += 1;
                if !back_off(attempt, stop) {
                    if let Some((conn, _)) = &recorder {
                        process::record(conn, schema, State::Stopped);
                    }
                    log.info(
                        "stopped",
                        "sync stopped while reconnecting, before applying anything; run it \
                         again to continue from the last applied change",
                        serde_json::Value::Null,
                    );
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt of `start_up`: takes the sync lock again if its session was lost, loads the
/// context, settles a switch a crash left half done, and arms the guards.
fn prepare(
    req: &SyncRequest,
    target: &Target,
    lock: &mut Option<Client>,
    log: &mut Journal,
) -> Result<(Ctx, Client)> {
    let schema_name = &req.options.schema;
    if lock.is_none() {
        let client = connect_target(target)?;
        lock_sync(&client, schema_name)?;
        *lock = Some(client);
    }
    let (ctx, state_client) = Ctx::load(target.clone(), &req.source, schema_name)?;
    let (ctx, state_client) = match settle(&state_client, &ctx)? {
        Some(said) => {
            log.info("settled", &said, serde_json::Value::Null);
            Ctx::load(target.clone(), &req.source, schema_name)?
        }
        None => (ctx, state_client),
    };
    if ctx.primary == Side::Sqlite {
        guard_copy(&state_client, &ctx)?;
        // SQLite's triggers act; the rows applied here already hold what they did.
        super::app_triggers::arm_pg(&state_client, &ctx.schema_name, false)?;
    }
    // A restart meanwhile ends the session holding the sync lock as well: a second sync
    // could take it, so a lost lock is a lost connection like any other.
    if let Some(client) = lock {
        client.batch_execute("checking the session holding the sync lock", "SELECT 1")?;
    }
    Ok((ctx, state_client))
}

/// Guards PostgreSQL's copy while SQLite is the primary: an application writing there
/// (a second instance pointed at the new URL) is refused at once, naming the primary,
/// instead of diverging until a verification finds it. The appliers write through
/// (`lite2pg.applying`); the guards turn inert when a cutover flips the state, and
/// `finish` removes them.
fn guard_copy(client: &Client, ctx: &Ctx) -> Result<()> {
    let mut sql = String::from(capg::FUNCTIONS);
    for s in &ctx.specs {
        sql.push_str(&capg::guard_sql(s.qualified(), &ctx.schema_name));
    }
    client.batch_execute(
        "guarding PostgreSQL's copy while SQLite is the primary",
        &sql,
    )
}

/// Applies every change until `stop` is set (or, with `--once`, the log is empty),
/// switching direction when the primary changes under it.
fn follow(req: &SyncRequest, ctx: &Ctx, stop: &AtomicBool, mut log: Journal) -> Result<i32> {
    let mut current = follower(ctx, ctx.primary, &mut log)?;
    let mut out = Applied::open(
        log,
        &req.source,
        req.log_retention,
        req.lag_file.as_deref(),
        req.verbose,
        req.status_interval,
    )?;
    process::record(&out.trimmer, &ctx.schema_name, State::Running);
    let file = FileIdentity::of(&req.source)?;
    let mut busy = BusyWait::default();
    let started = Instant::now();
    // A step is one transaction on each side (the applier contract), so a step that lost a
    // deadlock or a serialization conflict is simply run again.
    let mut retries = 0;
    while !stop.load(Ordering::SeqCst) {
        let step = match &mut current {
            Follower::Forward(a) => a
                .step(BATCH)
                .and_then(|b| b.map(|b| out.forward(&b)).transpose()),
            Follower::Reverse(r) => r.step(BATCH).map(|b| b.map(|b| out.reverse(&b))),
        };
        let changes = match step {
            Ok(Some(changes)) => changes,
            Ok(None) => {
                // The primary changed under this applier: follow the other way.
                let next = match current {
                    Follower::Forward(_) => Side::Postgresql,
                    Follower::Reverse(_) => Side::Sqlite,
                };
                current = follower(ctx, next, &mut out.log)?;
                continue;
            }
            Err(e) if e.policy() == Policy::Retry && retries < MAX_RETRIES => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(50 << retries));
                continue;
            }
            // The application holds SQLite's write lock (a long transaction): the step is
            // one transaction on each side, so it is simply run again once the lock is free.
            Err(e) if !req.once && busy.wait(&e, req.retry_for, &mut out.log) => continue,
            // The server restarted, failed over or dropped the session: reconnect and go
            // on from the recorded position (each step commits its position with its rows,
            // so nothing is lost or applied twice).
            Err(e) if e.is_connection() && !req.once => {
                match reconnect(req.retry_for, ctx, stop, e, &mut out, follower)? {
                    Some(next) => {
                        current = next;
                        continue;
                    }
                    None => break,
                }
            }
            Err(e) => {
                let client = match &mut current {
                    Follower::Forward(a) => a.client(),
                    Follower::Reverse(r) => r.client(),
                };
                record_error(client, &ctx.schema_name, &e.to_string());
                process::record(&out.trimmer, &ctx.schema_name, State::Stopped);
                out.log.log(
                    Level::Error,
                    "stopped",
                    &format!("sync stopped: {e}"),
                    serde_json::json!({ "error": e.to_string() }),
                );
                return Err(e);
            }
        };
        retries = 0;
        busy.over(&mut out.log);
        // The file sync opened must still be the one the application uses.
        if let Err(e) = file.check(&req.source) {
            process::record(&out.trimmer, &ctx.schema_name, State::Stopped);
            out.log.log(
                Level::Error,
                "file_replaced",
                &e.to_string(),
                serde_json::Value::Null,
            );
            return Err(e);
        }
        out.summary();
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
    // What the last window holds, before the closing line.
    out.every = Duration::ZERO;
    out.summary();
    process::record(&out.trimmer, &ctx.schema_name, State::Stopped);
    let seconds = started.elapsed().as_secs_f64();
    out.log.info(
        "stopped",
        &format!(
            "sync stopped cleanly after {seconds:.1} s ({} row(s) applied); run it again to \
             continue from the last applied change",
            out.rows
        ),
        serde_json::json!({ "seconds": seconds, "rows": out.rows }),
    );
    Ok(0)
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
