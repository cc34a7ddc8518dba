//! What the running `sync` is doing, recorded in the SQLite file it follows, so `status` can
//! say "reconnecting since …" while PostgreSQL cannot be reached (and so cannot hold it).
//!
//! One row per target schema in `_lite2pg_sync_process`, written only when the state
//! changes (started, connection lost, each reconnection attempt, reconnected, stopped), in
//! a short transaction of its own. Recording is best effort: an application holding the
//! write lock delays the row, never the applier. `finish` removes the table with the rest of
//! capture.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

/// The table; its name starts with the prefix `disarm` removes everything by.
pub const PROCESS: &str = "_lite2pg_sync_process";

/// What a sync process last recorded about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncProcess {
    /// `running`, `reconnecting` or `stopped`.
    pub state: String,
    /// Since when, RFC 3339 UTC.
    pub since: String,
    /// Reconnection attempts so far (0 unless reconnecting).
    pub attempt: i64,
    /// The error that started the reconnection, then the last attempt's.
    pub last_error: Option<String>,
    /// The process.
    pub pid: i64,
    /// When the row was last written, RFC 3339 UTC.
    pub updated_at: String,
}

/// What the process is doing, as [`record`] writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum State<'a> {
    /// Applying changes.
    Running,
    /// Lost its connection at `since` (julian day); `attempt` attempts made, the last failing
    /// with `error`.
    Reconnecting {
        /// When the connection was lost (julian day, SQLite's clock).
        since: f64,
        /// Attempts made so far.
        attempt: u32,
        /// The last error.
        error: &'a str,
    },
    /// Stopped cleanly (a signal, or `--once` drained the log).
    Stopped,
}

/// The clock the rows use: SQLite's, in julian days (so `since` is comparable with the
/// change log's `at`).
pub fn now(conn: &Connection) -> Option<f64> {
    conn.query_row("SELECT julianday('now')", [], |r| r.get(0))
        .ok()
}

/// Records `state` for `schema`; errors are ignored (the state is for the operator's eyes).
pub fn record(conn: &Connection, schema: &str, state: State<'_>) {
    let (name, since, attempt, error) = match state {
        State::Running => ("running", None, 0, None),
        State::Reconnecting {
            since,
            attempt,
            error,
        } => ("reconnecting", Some(since), attempt, Some(error)),
        State::Stopped => ("stopped", None, 0, None),
    };
    let _ = conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {PROCESS} (\n    schema TEXT PRIMARY KEY,\n    \
         state TEXT NOT NULL,\n    since REAL NOT NULL,\n    attempt INTEGER NOT NULL,\n    \
         last_error TEXT,\n    pid INTEGER NOT NULL,\n    updated REAL NOT NULL\n);"
    ));
    let _ = conn.execute(
        &format!(
            "INSERT INTO {PROCESS} (schema, state, since, attempt, last_error, pid, updated) \
             VALUES (?1, ?2, coalesce(?3, julianday('now')), ?4, ?5, ?6, julianday('now')) \
             ON CONFLICT (schema) DO UPDATE SET state = excluded.state, \
             since = excluded.since, attempt = excluded.attempt, \
             last_error = excluded.last_error, pid = excluded.pid, updated = excluded.updated"
        ),
        rusqlite::params![
            schema,
            name,
            since,
            i64::from(attempt),
            error,
            i64::from(std::process::id())
        ],
    );
}

/// What the last sync process of `schema` recorded, if any.
pub fn read(conn: &Connection, schema: &str) -> Option<SyncProcess> {
    conn.query_row(
        &format!(
            "SELECT state, strftime('%Y-%m-%dT%H:%M:%SZ', since), attempt, last_error, pid, \
             strftime('%Y-%m-%dT%H:%M:%SZ', updated) FROM {PROCESS} WHERE schema = ?1"
        ),
        [schema],
        |r| {
            Ok(SyncProcess {
                state: r.get(0)?,
                since: r.get(1)?,
                attempt: r.get(2)?,
                last_error: r.get(3)?,
                pid: r.get(4)?,
                updated_at: r.get(5)?,
            })
        },
    )
    .optional()
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_recorded_state_is_read_back_per_schema() {
        let c = Connection::open_in_memory().unwrap();
        assert_eq!(read(&c, "public"), None);
        record(&c, "public", State::Running);
        let since = now(&c).unwrap();
        record(
            &c,
            "public",
            State::Reconnecting {
                since,
                attempt: 3,
                error: "connection refused",
            },
        );
        record(&c, "other", State::Stopped);
        let p = read(&c, "public").unwrap();
        assert_eq!(p.state, "reconnecting");
        assert_eq!(p.attempt, 3);
        assert_eq!(p.last_error.as_deref(), Some("connection refused"));
        assert_eq!(p.pid, i64::from(std::process::id()));
        assert!(p.since.ends_with('Z'));
        assert_eq!(read(&c, "other").unwrap().state, "stopped");
    }
}
