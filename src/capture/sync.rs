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

use super::applier::{Applier, BATCH};
use super::context::{load_state, lock_sync, open_writable, sqlite_err, Ctx};
use super::forward::{self, Forward};
use super::journal::{Journal, Level, LogFormat};
use super::pg_log as capg;
use super::process::{self, State};
use super::reverse::{Reverse, ReverseBatch};
use super::settle::settle;
use super::spec;
use super::sqlite_log as cap;
use super::Side;
use crate::error::sqlstate::Policy;
use crate::error::{Error, Result};
use crate::migrate::{MigrateRequest, Mode};
use crate::pg::{connect_target, quote_ident, Client, TargetChoice};
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
    let (ctx, state_client) = Ctx::load(target.clone(), &req.source, &schema_name)?;
    let (ctx, state_client) = match settle(&state_client, &ctx)? {
        Some(said) => {
            log.info("settled", &said, serde_json::Value::Null);
            Ctx::load(target, &req.source, &schema_name)?
        }
        None => (ctx, state_client),
    };
    if ctx.primary == Side::Sqlite {
        guard_copy(&state_client, &ctx)?;
    }
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
    let mut out = Applied {
        log,
        trimmer: open_writable(&req.source)?,
        retention: req.log_retention,
        applied_up_to: 0,
        last_trim: Instant::now(),
        // Benchmarks: each applied change's age at commit, one line of seconds per change.
        lag_file: match &req.lag_file {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| Error::io(format!("opening the lag file {}", p.display()), e))?,
            ),
            None => None,
        },
        rows: 0,
        verbose: req.verbose,
        every: req.status_interval,
        window: Window::default(),
        lock: None,
    };
    process::record(&out.trimmer, &ctx.schema_name, State::Running);
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
            // The server restarted, failed over or dropped the session: reconnect and go
            // on from the recorded position (each step commits its position with its rows,
            // so nothing is lost or applied twice).
            Err(e) if e.is_connection() && !req.once => {
                match reconnect(req, ctx, stop, e, &mut out)? {
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

/// After a lost connection: waits with capped exponential backoff (0.5 s doubling to 30 s)
/// and builds the applier again for whichever side PostgreSQL now says is the primary.
/// `None`: stopped by a signal meanwhile. Gives up with the last error after `--retry-for`,
/// and at once when the SQLite file is gone.
fn reconnect(
    req: &SyncRequest,
    ctx: &Ctx,
    stop: &AtomicBool,
    lost: Error,
    out: &mut Applied,
) -> Result<Option<Follower>> {
    let started = Instant::now();
    let since = process::now(&out.trimmer).unwrap_or(0.0);
    out.log.warn(
        "connection_lost",
        &format!("connection lost ({lost}); reconnecting"),
        serde_json::json!({ "error": lost.to_string() }),
    );
    process::record(
        &out.trimmer,
        &ctx.schema_name,
        State::Reconnecting {
            since,
            attempt: 0,
            error: &lost.to_string(),
        },
    );
    let mut last = lost;
    for attempt in 1u32.. {
        if req
            .retry_for
            .is_some_and(|limit| started.elapsed() >= limit)
        {
            process::record(&out.trimmer, &ctx.schema_name, State::Stopped);
            out.log.log(
                Level::Error,
                "gave_up",
                &format!(
                    "gave up reconnecting after {:.0} s (--retry-for): {last}",
                    started.elapsed().as_secs_f64()
                ),
                serde_json::json!({ "attempts": attempt - 1, "error": last.to_string() }),
            );
            return Err(last);
        }
        if !req.source.exists() {
            return Err(Error::Usage(format!(
                "{} is gone (moved or deleted) while sync was reconnecting: start sync again \
                 on the file the application uses",
                req.source.display()
            )));
        }
        let wait = Duration::from_millis(500u64 << attempt.min(6)).min(Duration::from_secs(30));
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let again = (|| -> Result<(Follower, Client, i64)> {
            let client = connect_target(&ctx.target)?;
            // The lost session held the lock that keeps a second sync out; take it again.
            lock_sync(&client, &ctx.schema_name)?;
            let state = load_state(&client, &ctx.schema_name)?.ok_or_else(|| {
                Error::Usage("the sync state is gone from the target (finish ran?)".into())
            })?;
            let next = follower(ctx, state.primary, &mut out.log)?;
            Ok((next, client, state.applied_seq))
        })();
        match again {
            Ok((next, lock, held)) => {
                out.lock = Some(lock);
                if state_is_behind(held, out.applied_up_to) {
                    out.log.warn(
                        "behind",
                        &format!(
                            "the server now primary holds changes up to {held}, but this process \
                             had applied up to {}: it was a standby that had not received the \
                             last {} change(s); applying them again from SQLite's log",
                            out.applied_up_to,
                            out.applied_up_to - held
                        ),
                        serde_json::json!({ "held": held, "applied": out.applied_up_to }),
                    );
                }
                let seconds = started.elapsed().as_secs_f64();
                out.log.info(
                    "reconnected",
                    &format!(
                        "reconnected after {attempt} attempt(s), {seconds:.1} s; applying from \
                         the recorded position"
                    ),
                    serde_json::json!({ "attempts": attempt, "seconds": seconds }),
                );
                process::record(&out.trimmer, &ctx.schema_name, State::Running);
                return Ok(Some(next));
            }
            Err(e) if e.is_connection() => {
                out.log.warn(
                    "reconnecting",
                    &format!("reconnecting, attempt {attempt}: {e}"),
                    serde_json::json!({ "attempt": attempt, "error": e.to_string() }),
                );
                process::record(
                    &out.trimmer,
                    &ctx.schema_name,
                    State::Reconnecting {
                        since,
                        attempt,
                        error: &e.to_string(),
                    },
                );
                last = e;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Whether the state a reconnection found is older than what this process applied (a
/// failover to a standby that lagged).
fn state_is_behind(held: i64, applied_up_to: i64) -> bool {
    applied_up_to > 0 && held < applied_up_to
}

/// What the loop does with each applied batch: count it, say it, record lags, trim the
/// SQLite log behind it.
struct Applied {
    log: Journal,
    trimmer: rusqlite::Connection,
    /// How long applied changes stay in SQLite's log (`--log-retention`).
    retention: Duration,
    /// The last change this process applied forward (0: none yet).
    applied_up_to: i64,
    last_trim: Instant,
    lag_file: Option<std::fs::File>,
    rows: u64,
    /// A line per batch (`--verbose`).
    verbose: bool,
    /// How often the summary line is written (`--status-interval`).
    every: Duration,
    /// What the summary line covers.
    window: Window,
    /// After a reconnection: the session holding the sync lock.
    lock: Option<Client>,
}

/// What was applied since the last summary line.
struct Window {
    since: Instant,
    changes: usize,
    rows: u64,
    /// Each forward change's age when applied, seconds.
    lags: Vec<f64>,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            since: Instant::now(),
            changes: 0,
            rows: 0,
            lags: Vec::new(),
        }
    }
}

impl Applied {
    /// Writes the summary line once `--status-interval` has passed since the last (none in
    /// a window with nothing applied): changes, rows and the lag's median and 99th
    /// percentile, so a week of sync is a few thousand lines, not millions.
    fn summary(&mut self) {
        if self.window.since.elapsed() < self.every {
            return;
        }
        let mut w = std::mem::take(&mut self.window);
        if w.changes == 0 {
            return;
        }
        let seconds = w.since.elapsed().as_secs_f64();
        let (lag, p50, p99) = if w.lags.is_empty() {
            (String::new(), None, None)
        } else {
            w.lags.sort_by(f64::total_cmp);
            let at = |q: f64| w.lags[((w.lags.len() - 1) as f64 * q).round() as usize];
            let (p50, p99) = (at(0.5), at(0.99));
            (
                format!(", lag p50 {p50:.2} s, p99 {p99:.2} s"),
                Some(p50),
                Some(p99),
            )
        };
        self.log.info(
            "summary",
            &format!(
                "{} change(s) applied in the last {seconds:.0} s ({} row(s)){lag}",
                w.changes, w.rows
            ),
            serde_json::json!({
                "seconds": seconds,
                "changes": w.changes,
                "rows": w.rows,
                "lag_p50_s": p50,
                "lag_p99_s": p99,
            }),
        );
    }

    /// A forward batch; returns its changes.
    fn forward(&mut self, batch: &forward::Batch) -> Result<usize> {
        self.rows += batch.rows_written + batch.rows_deleted;
        if batch.changes > 0 {
            self.applied_up_to = batch.last_seq;
        }
        if let Some(f) = self.lag_file.as_mut() {
            write_lags(f, &batch.made_at)?;
        }
        self.window.changes += batch.changes;
        self.window.rows += batch.rows_written + batch.rows_deleted;
        if !batch.made_at.is_empty() {
            let now = unix_now();
            self.window.lags.extend(
                batch
                    .made_at
                    .iter()
                    .map(|at| now - forward::julian_to_unix(*at)),
            );
        }
        if batch.changes > 0 && self.verbose {
            self.log.info(
                "batch",
                &format!(
                    "applied {} change(s) up to {}: {} row(s) written, {} deleted{}",
                    batch.changes,
                    batch.last_seq,
                    batch.rows_written,
                    batch.rows_deleted,
                    if batch.rejected > 0 {
                        format!(", {} not carried (see lite2pg status)", batch.rejected)
                    } else {
                        String::new()
                    }
                ),
                serde_json::json!({
                    "direction": "forward",
                    "changes": batch.changes,
                    "up_to": batch.last_seq,
                    "written": batch.rows_written,
                    "deleted": batch.rows_deleted,
                    "not_carried": batch.rejected,
                }),
            );
        }
        if batch.rejected > 0 && !self.verbose {
            // A state change: rows sync cannot carry, said at once.
            self.log.warn(
                "not_carried",
                &format!(
                    "{} row(s) hold values PostgreSQL cannot store and were not carried (see \
                     lite2pg status)",
                    batch.rejected
                ),
                serde_json::json!({ "rows": batch.rejected, "up_to": batch.last_seq }),
            );
        }
        if batch.changes > 0 && self.last_trim.elapsed() > Duration::from_secs(1) {
            // Best effort: a busy writer only delays the trim.
            // Applied changes stay --log-retention longer: a standby promoted after a
            // failover may not hold the last of them, and they are applied again from here.
            let _ = self.trimmer.execute(
                &format!(
                    "DELETE FROM {} WHERE seq <= ?1 AND at < julianday('now') - ?2",
                    cap::CHANGES
                ),
                rusqlite::params![batch.last_seq, self.retention.as_secs_f64() / 86_400.0],
            );
            self.last_trim = Instant::now();
        }
        Ok(batch.changes)
    }

    /// A reverse batch; returns its changes.
    fn reverse(&mut self, batch: &ReverseBatch) -> usize {
        self.rows += batch.rows_written + batch.rows_deleted;
        self.window.changes += batch.changes;
        self.window.rows += batch.rows_written + batch.rows_deleted;
        if batch.changes > 0 && self.verbose {
            self.log.info(
                "batch",
                &format!(
                    "applied {} PostgreSQL change(s) to SQLite: {} row(s) written, {} deleted",
                    batch.changes, batch.rows_written, batch.rows_deleted
                ),
                serde_json::json!({
                    "direction": "back",
                    "changes": batch.changes,
                    "written": batch.rows_written,
                    "deleted": batch.rows_deleted,
                }),
            );
        }
        batch.changes
    }
}

/// Seconds since 1970, now.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn write_lags(f: &mut std::fs::File, made_at: &[f64]) -> Result<()> {
    use std::io::Write;
    let now = unix_now();
    let mut text = String::with_capacity(made_at.len() * 10);
    for at in made_at {
        text.push_str(&format!("{:.4}\n", now - forward::julian_to_unix(*at)));
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
