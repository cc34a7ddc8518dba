//! The application's triggers at the end of a run: created after the data (the rows
//! already hold what SQLite's triggers did), then disarmed if `sync` keeps SQLite the
//! primary (docs/behaviour.md).

use std::collections::HashSet;

use crate::error::Result;
use crate::pg::catalog::switch_trigger;
use crate::pg::{qualified, Client};
use crate::plan::Plan;

/// Under `sync`, SQLite stays the primary after this migration: its own triggers act, and
/// the rows the applier brings already hold what they did, so the translated triggers just
/// created are disarmed before anything is applied (or verified). INSTEAD OF triggers on
/// views cannot be, and need not be: the applier writes tables.
pub fn disarm_while_sqlite_is_primary(client: &Client, plan: &Plan) -> Result<()> {
    let schema = &plan.options.schema;
    if !crate::pg::control::sqlite_is_primary(client, schema)? {
        return Ok(());
    }
    let tables: HashSet<&str> = plan.tables.iter().map(|t| t.target.as_str()).collect();
    let sql: String = plan
        .triggers
        .iter()
        .filter(|t| t.translated && tables.contains(t.target_table.as_str()))
        .map(|t| switch_trigger(&qualified(schema, &t.target_table), &t.name, false))
        .collect();
    if sql.is_empty() {
        return Ok(());
    }
    client.batch_execute(
        "disarming the application's triggers while SQLite is the primary",
        &sql,
    )
}
