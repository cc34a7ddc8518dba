//! `lite2pg finish`: ends the dual-write period by removing every capture artefact from
//! both sides (triggers, change logs, guards, state), and the control schema when nothing
//! else of lite2pg's is in it. The primary stays as it is.

use std::path::PathBuf;

use super::context::{connect_to_control, open_writable, sqlite_err};
use super::sqlite_log as cap;
use crate::error::{Error, Result};
use crate::pg::{qualified, quote_ident, TargetChoice};

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
    crate::failpoint::hit("finish.connected");
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
    // Whichever side is kept, it is whole: PostgreSQL's translated triggers armed (SQLite's
    // come back with the capture removal above).
    super::app_triggers::arm_pg(&client, &req.schema, true)?;
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
