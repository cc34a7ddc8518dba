//! What `sync` does when a side is not there: the server lost (a restart, a failover) is
//! reconnected to with backoff, taking the sync lock again and saying when the server now
//! primary is behind; SQLite's write lock held long by the application is waited out; a
//! SQLite file moved away or replaced under its name stops sync.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::applied::Applied;
use super::backoff::{back_off, say_gave_up, say_reconnected};
use super::context::{load_state, lock_sync, Ctx};
use super::journal::Journal;
use super::process::{self, State};
use super::Side;
use crate::error::{Error, Result};
use crate::pg::{connect_target, Client};

/// After a lost connection: waits with capped exponential backoff (0.5 s doubling to 30 s)
/// and builds the applier again for whichever side PostgreSQL now says is the primary.
/// `None`: stopped by a signal meanwhile. Gives up with the last error after `--retry-for`,
/// and at once when the SQLite file is gone. `follower` builds the applier for a primary.
pub(crate) fn reconnect<F>(
    retry_for: Option<Duration>,
    ctx: &Ctx,
    stop: &AtomicBool,
    lost: Error,
    out: &mut Applied,
    mut follower: impl FnMut(&Ctx, Side, &mut Journal) -> Result<F>,
) -> Result<Option<F>> {
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
        if retry_for.is_some_and(|limit| started.elapsed() >= limit) {
            process::record(&out.trimmer, &ctx.schema_name, State::Stopped);
            say_gave_up(&mut out.log, started, attempt - 1, &last);
            return Err(last);
        }
        if !ctx.source.exists() {
            return Err(Error::Usage(format!(
                "{} is gone (moved or deleted) while sync was reconnecting: start sync again \
                 on the file the application uses",
                ctx.source.display()
            )));
        }
        if !back_off(attempt, stop) {
            return Ok(None);
        }
        let again = (|| -> Result<(F, Client, i64)> {
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
                say_reconnected(&mut out.log, started, attempt);
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
            Err(e) => {
                process::record(&out.trimmer, &ctx.schema_name, State::Stopped);
                return Err(e);
            }
        }
    }
    Err(last)
}

/// Which file a path named when sync opened it, so a file replaced under the same name (a
/// restore, a deploy copying a new database in) or moved away is noticed, instead of sync
/// following a file no application writes any more.
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    checked: std::cell::Cell<Instant>,
}

impl FileIdentity {
    /// The file `path` names now.
    pub fn of(path: &std::path::Path) -> Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)
            .map_err(|e| Error::source(path, format!("cannot stat the file: {e}")))?;
        Ok(FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
            checked: std::cell::Cell::new(Instant::now()),
        })
    }

    /// At most once a second: an error when `path` is gone or names another file now.
    pub fn check(&self, path: &std::path::Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        if self.checked.get().elapsed() < Duration::from_secs(1) {
            return Ok(());
        }
        self.checked.set(Instant::now());
        match std::fs::metadata(path) {
            Err(_) => Err(Error::source(
                path,
                "the file is gone (moved or deleted) while sync followed it: start sync again \
                 on the file the application uses",
            )),
            Ok(m) if (m.dev(), m.ino()) != (self.dev, self.ino) => Err(Error::source(
                path,
                "another file now has this name (the database was replaced, restored or \
                 copied over): sync followed the file it opened, which no application writes \
                 any more. Migrate the new file under capture with `lite2pg sync --replace`",
            )),
            Ok(_) => Ok(()),
        }
    }
}

/// Whether the state a reconnection found is older than what this process applied (a
/// failover to a standby that lagged).
fn state_is_behind(held: i64, applied_up_to: i64) -> bool {
    applied_up_to > 0 && held < applied_up_to
}

/// Waiting out SQLite's write lock held by the application: one line when the wait starts,
/// one when the lock is free again, and no more waiting than `--retry-for`.
#[derive(Default)]
pub(crate) struct BusyWait {
    since: Option<Instant>,
}

impl BusyWait {
    /// Whether to wait for `e` and run the step again (it is SQLite's lock, and
    /// `--retry-for` has not run out); says so the first time.
    pub fn wait(&mut self, e: &Error, retry_for: Option<Duration>, log: &mut Journal) -> bool {
        if !e.is_busy()
            || retry_for.is_some_and(|limit| self.since.is_some_and(|t| t.elapsed() >= limit))
        {
            return false;
        }
        if self.since.is_none() {
            self.since = Some(Instant::now());
            log.warn(
                "sqlite_busy",
                &format!(
                    "SQLite's write lock is held by another connection (a long transaction of \
                     the application?); waiting for it: {e}"
                ),
                serde_json::json!({ "error": e.to_string() }),
            );
        }
        std::thread::sleep(Duration::from_secs(1));
        true
    }

    /// After a step that went through: ends a wait, saying how long it took.
    pub fn over(&mut self, log: &mut Journal) {
        if let Some(t) = self.since.take() {
            let seconds = t.elapsed().as_secs_f64();
            log.info(
                "sqlite_free",
                &format!("SQLite's write lock is free again after {seconds:.1} s; applying"),
                serde_json::json!({ "seconds": seconds }),
            );
        }
    }
}
