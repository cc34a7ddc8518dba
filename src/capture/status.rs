//! `lite2pg status`: the dual-write state of one target schema, as text or JSON: the
//! primary, the direction, pending changes and lag, rows applied, rows sync could not carry,
//! and the applier's last error.

use std::path::PathBuf;

use serde::Serialize;

use super::context::{connect_to_control, sqlite_err, Ctx};
use super::process::{self, SyncProcess};
use super::settle::settle;
use super::sqlite_log as cap;
use super::Side;
use crate::error::{Error, Result};
use crate::pg::{quote_ident, TargetChoice};

/// The sync state of one target schema, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Target schema.
    pub schema: String,
    /// The SQLite file.
    pub source: String,
    /// `sqlite→pg` or `pg→sqlite`.
    pub direction: String,
    /// Which side the application writes to.
    pub primary: Side,
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
    /// A switch found interrupted and settled before reading the state: what was done.
    pub settled: Option<String>,
    /// A switch in flight (`cutover` or `rollback`): running now in another process, or
    /// interrupted and not yet settled.
    pub switching: Option<String>,
    /// What the sync process last recorded in the SQLite file: running, reconnecting (since
    /// when, how many attempts, the last error) or stopped.
    pub sync_process: Option<SyncProcess>,
    /// When the applier last committed, seconds since 1970.
    #[serde(skip)]
    pub last_applied_unix: Option<f64>,
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
    /// How to print it.
    pub format: StatusFormat,
}

/// How `status` prints the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFormat {
    /// Readable lines.
    Text,
    /// One JSON object.
    Json,
    /// Prometheus' text exposition format, for a textfile collector or a cron job to alert
    /// on lag.
    Prometheus,
}

/// Reads the sync state of a schema, settling first a switch found interrupted
/// (capture/settle.rs).
pub fn status_of(req: &StatusRequest) -> Result<Status> {
    let settled = match req.target.require("status") {
        Ok(target) => match Ctx::load(target, &req.source, &req.schema) {
            Ok((ctx, client)) => settle(&client, &ctx)?,
            // Not synced (yet): nothing can be half-switched.
            Err(_) => None,
        },
        Err(_) => None,
    };
    let client = connect_to_control(&req.target, "nothing is being synced there")?;
    crate::failpoint::hit("status.connected");
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
                          FROM lite2pg.pg_changes c WHERE c.target_schema = s.target_schema), 0), \
                switching, extract(epoch FROM applied_at)::float8 \
         FROM lite2pg.sync_state s WHERE target_schema = $1",
        &[&req.schema],
    )?;
    let r = rows.first().ok_or_else(|| {
        Error::Usage(format!(
            "schema {} is not being synced (no `lite2pg sync` has started there)",
            quote_ident(&req.schema)
        ))
    })?;
    let primary = Side::parse(r.get(1))?;
    let applied_seq: i64 = r.get(3);
    let sync_process = sqlite_side(req);
    let (pending, lag) = if primary == Side::Sqlite {
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
        direction: primary.direction().into(),
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
        settled,
        switching: r.get(13),
        sync_process,
        last_applied_unix: r.get(14),
    })
}

/// What the sync process recorded in the SQLite file, if it can be read.
fn sqlite_side(req: &StatusRequest) -> Option<SyncProcess> {
    let src = crate::sqlite::open_source(&req.source).ok()?;
    process::read(&src.conn, &req.schema)
}

/// The sync process's line of the text status.
fn process_line(p: &SyncProcess) -> String {
    match p.state.as_str() {
        "reconnecting" => format!(
            "reconnecting since {}, attempt {}{} (pid {})",
            p.since,
            p.attempt,
            p.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default(),
            p.pid
        ),
        "running" => format!("running since {} (pid {})", p.since, p.pid),
        other => format!("{other} at {}", p.updated_at),
    }
}

/// `lite2pg status`: prints the state; exit 0, or 1 when the applier's last batch failed or
/// rows wait that it cannot carry.
pub fn status(req: &StatusRequest) -> Result<i32> {
    let s = match status_of(req) {
        Ok(s) => s,
        // PostgreSQL cannot be reached: what the sync process says of it still can be.
        Err(e) if e.is_connection() => {
            if let (StatusFormat::Text, Some(p)) = (req.format, sqlite_side(req)) {
                crate::output::write(None, &format!("  sync process:     {}\n", process_line(&p)))?;
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let text = match req.format {
        StatusFormat::Json => serde_json::to_string_pretty(&s).unwrap_or_default() + "\n",
        StatusFormat::Text => render_status(&s),
        StatusFormat::Prometheus => render_prometheus(&s),
    };
    crate::output::write(None, &text)?;
    Ok(if s.last_error.is_some() || s.rejected_rows > 0 {
        1
    } else {
        0
    })
}

/// A label value in Prometheus' exposition format: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_prometheus(s: &Status) -> String {
    let schema = format!("schema=\"{}\"", label(&s.schema));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in samples {
            out.push_str(&format!("{name}{{{labels}}} {v}\n"));
        }
    };
    metric(
        "lite2pg_sync_pending_changes",
        "gauge",
        "Changes the primary made that the other side has not applied yet.",
        &[(schema.clone(), s.pending_changes as f64)],
    );
    metric(
        "lite2pg_sync_lag_seconds",
        "gauge",
        "Age of the oldest change waiting to be applied (0 when none waits).",
        &[(schema.clone(), s.lag_seconds)],
    );
    metric(
        "lite2pg_sync_applied_rows_total",
        "counter",
        "Rows the appliers wrote, by direction.",
        &[
            (
                format!("{schema},direction=\"forward\""),
                s.applied_rows as f64,
            ),
            (
                format!("{schema},direction=\"back\""),
                s.reverse_rows as f64,
            ),
        ],
    );
    metric(
        "lite2pg_sync_rejected_rows",
        "gauge",
        "Rows whose current values the applier could not carry (lite2pg.sync_rejects).",
        &[(schema.clone(), s.rejected_rows as f64)],
    );
    metric(
        "lite2pg_sync_primary",
        "gauge",
        "1 for the side the application writes to.",
        &[
            (
                format!("{schema},side=\"sqlite\""),
                f64::from(u8::from(s.primary == Side::Sqlite)),
            ),
            (
                format!("{schema},side=\"postgresql\""),
                f64::from(u8::from(s.primary == Side::Postgresql)),
            ),
        ],
    );
    metric(
        "lite2pg_sync_error",
        "gauge",
        "1 while the applier's last batch failed (status shows the error).",
        &[(schema.clone(), f64::from(u8::from(s.last_error.is_some())))],
    );
    let reconnecting = s
        .sync_process
        .as_ref()
        .filter(|p| p.state == "reconnecting");
    metric(
        "lite2pg_sync_reconnecting",
        "gauge",
        "1 while the sync process is reconnecting to PostgreSQL (as it recorded in SQLite).",
        &[(schema.clone(), f64::from(u8::from(reconnecting.is_some())))],
    );
    metric(
        "lite2pg_sync_reconnect_attempts",
        "gauge",
        "Reconnection attempts of the current outage (0 when connected).",
        &[(
            schema.clone(),
            reconnecting.map_or(0.0, |p| p.attempt as f64),
        )],
    );
    metric(
        "lite2pg_sync_switch_in_flight",
        "gauge",
        "1 while a cutover or rollback is running, or interrupted and not yet settled.",
        &[(schema.clone(), f64::from(u8::from(s.switching.is_some())))],
    );
    if let Some(t) = s.last_applied_unix {
        metric(
            "lite2pg_sync_last_applied_timestamp_seconds",
            "gauge",
            "When the applier last committed, seconds since 1970.",
            &[(schema, t)],
        );
    }
    out
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
    if let Some(p) = &s.sync_process {
        out.push_str(&format!("  sync process:     {}\n", process_line(p)));
    }
    if let Some(w) = &s.settled {
        out.push_str(&format!("  settled now:      {w}\n"));
    }
    if let Some(w) = &s.switching {
        out.push_str(&format!(
            "  switch in flight: {w} (running in another process; if that process died, the \
             next status, sync, cutover or rollback settles it)\n"
        ));
    }
    out
}
