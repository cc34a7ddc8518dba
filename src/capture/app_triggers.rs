//! The application's triggers through the dual-write period: only the primary's act.
//!
//! The rows each applier writes already hold what the primary's triggers did, so the
//! follower's triggers must not fire on them a second time:
//!
//! | primary | PostgreSQL's translated triggers | SQLite's own triggers |
//! |---|---|---|
//! | SQLite (`sync`, after `rollback`) | disarmed (`ALTER TABLE … DISABLE TRIGGER`) | in place |
//! | PostgreSQL (after `cutover`) | armed | parked: dropped, their SQL kept in `_lite2pg_app_triggers` |
//!
//! Each change is made in the transaction of the switch on its side, so it commits (or
//! settles after a crash) with the switch. `finish` arms PostgreSQL's and puts SQLite's
//! back: both databases are whole again, whichever is kept. INSTEAD OF triggers on views
//! stay armed (PostgreSQL cannot disable them; the appliers write tables, never views).

use rusqlite::Transaction;

use crate::error::Result;
use crate::pg::catalog::switch_trigger;
use crate::pg::{qualified, quote_ident, Client};

/// The SQLite table holding the parked triggers' SQL.
const PARKED: &str = "_lite2pg_app_triggers";

/// Arms (`true`) or disarms PostgreSQL's translated triggers on the tables of the run the
/// sync of `schema` follows; returns how many were changed. Runs in the caller's
/// transaction.
pub(crate) fn arm_pg(client: &Client, schema: &str, arm: bool) -> Result<usize> {
    let rows = client.query(
        "listing the translated triggers",
        "SELECT c.relname, tg.tgname FROM lite2pg.sync_state s \
         JOIN lite2pg.runs r ON r.id = s.run_id \
         CROSS JOIN jsonb_array_elements(COALESCE(r.plan->'triggers', '[]'::jsonb)) t \
         JOIN pg_namespace n ON n.nspname = s.target_schema \
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t->>'target_table' \
         JOIN pg_trigger tg ON tg.tgrelid = c.oid AND tg.tgname = t->>'name' \
         WHERE s.target_schema = $1 AND (t->>'translated')::boolean \
         AND c.relkind IN ('r', 'p') AND (tg.tgenabled = 'D') = $2",
        &[&schema, &arm],
    )?;
    let sql: String = rows
        .iter()
        .map(|r| {
            switch_trigger(
                &qualified(schema, &r.get::<_, String>(0)),
                &r.get::<_, String>(1),
                arm,
            )
        })
        .collect();
    if !sql.is_empty() {
        let what = if arm {
            "arming the application's triggers"
        } else {
            "disarming the application's triggers"
        };
        client.batch_execute(what, &sql)?;
    }
    Ok(rows.len())
}

/// Drops SQLite's own triggers, keeping their SQL to put back; in the caller's transaction.
pub(crate) fn park_sqlite(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {PARKED} (name TEXT PRIMARY KEY, sql TEXT NOT NULL)"
    ))?;
    let own: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' \
             AND substr(name, 1, 9) <> '_lite2pg_' AND sql IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (name, sql) in &own {
        tx.execute(
            &format!("INSERT OR REPLACE INTO {PARKED} (name, sql) VALUES (?1, ?2)"),
            [name, sql],
        )?;
        tx.execute_batch(&format!("DROP TRIGGER {}", quote_ident(name)))?;
    }
    Ok(own.len())
}

/// Puts SQLite's parked triggers back, as they were written; in the caller's transaction.
pub(crate) fn restore_sqlite(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    let parked: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [PARKED],
        |r| r.get(0),
    )?;
    if !parked {
        return Ok(0);
    }
    let saved: Vec<String> = {
        let mut stmt = tx.prepare(&format!("SELECT sql FROM {PARKED} ORDER BY rowid"))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for sql in &saved {
        // One statement each: what was parked is a CREATE TRIGGER, nothing else runs.
        tx.execute(sql, [])?;
    }
    tx.execute_batch(&format!("DROP TABLE {PARKED}"))?;
    rebuild_external_fts(tx)?;
    Ok(saved.len())
}

/// Rebuilds SQLite's external-content FTS indexes from their content tables. While
/// PostgreSQL was the primary its generated `tsvector` kept its search current, but the
/// rows the reverse applier carried into SQLite's content tables reached SQLite's index
/// through no trigger (they were parked): without this, SQLite's search would miss them.
fn rebuild_external_fts(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let virtual_tables: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' \
             AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (name, sql) in virtual_tables {
        let external = crate::translate::fts::parse(&sql)
            .and_then(|f| f.content)
            .is_some_and(|c| !c.is_empty());
        if external {
            let name = quote_ident(&name);
            tx.execute(
                &format!("INSERT INTO {name} ({name}) VALUES ('rebuild')"),
                [],
            )?;
        }
    }
    Ok(())
}
