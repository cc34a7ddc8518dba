//! What `sync`'s loop does with each applied batch: counts it, writes the summary line per
//! `--status-interval` (and a line per batch with `--verbose`), records each change's lag
//! for the benchmarks, and trims SQLite's change log behind what was applied, keeping
//! `--log-retention` of it for a standby promoted after a failover.

use std::path::Path;
use std::time::{Duration, Instant};

use super::context::open_writable;
use super::forward;
use super::journal::Journal;
use super::reverse::ReverseBatch;
use super::sqlite_log as cap;
use crate::error::{Error, Result};
use crate::pg::Client;

/// What the loop does with each applied batch: count it, say it, record lags, trim the
/// SQLite log behind it.
pub(crate) struct Applied {
    /// The sync log.
    pub log: Journal,
    /// A writable connection to the SQLite file: trims the log, records the process.
    pub trimmer: rusqlite::Connection,
    /// How long applied changes stay in SQLite's log (`--log-retention`).
    retention: Duration,
    /// The last change this process applied forward (0: none yet).
    pub applied_up_to: i64,
    last_trim: Instant,
    lag_file: Option<std::fs::File>,
    /// Rows written, both ways, by this process.
    pub rows: u64,
    /// A line per batch (`--verbose`).
    verbose: bool,
    /// How often the summary line is written (`--status-interval`).
    pub every: Duration,
    /// What the summary line covers.
    window: Window,
    /// After a reconnection: the session holding the sync lock.
    pub lock: Option<Client>,
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
    /// The loop's bookkeeping for the SQLite file at `source`, writing to `log`.
    pub fn open(
        log: Journal,
        source: &Path,
        retention: Duration,
        lag_file: Option<&Path>,
        verbose: bool,
        every: Duration,
    ) -> Result<Applied> {
        Ok(Applied {
            log,
            trimmer: open_writable(source)?,
            retention,
            applied_up_to: 0,
            last_trim: Instant::now(),
            // Benchmarks: each applied change's age at commit, one line of seconds per change.
            lag_file: match lag_file {
                Some(p) => Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .map_err(|e| {
                            Error::io(format!("opening the lag file {}", p.display()), e)
                        })?,
                ),
                None => None,
            },
            rows: 0,
            verbose,
            every,
            window: Window::default(),
            lock: None,
        })
    }

    /// Writes the summary line once `--status-interval` has passed since the last (none in
    /// a window with nothing applied): changes, rows and the lag's median and 99th
    /// percentile, so a week of sync is a few thousand lines, not millions.
    pub fn summary(&mut self) {
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
    pub fn forward(&mut self, batch: &forward::Batch) -> Result<usize> {
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
    pub fn reverse(&mut self, batch: &ReverseBatch) -> usize {
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
