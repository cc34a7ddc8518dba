//! A framework's migration record under `--data-only`: the target's copy of it was written
//! by the framework when it made the schema, so it is compared, not overwritten.
//!
//! When the target's table has rows, the migrations it records are compared with the
//! SQLite file's: the same set means the same migrations made both schemas, and the table
//! is left as the target has it (copying would only collide with the framework's rows);
//! a different set means the application's models differ between the two, and the load is
//! refused with the difference. An empty target table is loaded like any other.

use std::collections::BTreeSet;

use rusqlite::types::ValueRef;

use crate::error::{Error, Result};
use crate::model::frameworks;
use crate::pg::{qualified, quote_ident, Client};
use crate::plan::Plan;

/// Takes the framework bookkeeping tables whose target copy is already filled out of
/// `plan`, after checking they record the same migrations; returns a note for each.
pub fn reconcile(
    client: &Client,
    sqlite: &rusqlite::Connection,
    plan: &mut Plan,
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut keep = Vec::new();
    for t in std::mem::take(&mut plan.tables) {
        let sources: Vec<&str> = t.columns.iter().map(|c| c.source.as_str()).collect();
        let Some(b) = frameworks::bookkeeping(&t.source, &sources) else {
            keep.push(t);
            continue;
        };
        let q = qualified(&plan.options.schema, &t.target);
        let target_rows: i64 = client
            .query(
                &format!("reading {q}"),
                &format!("SELECT count(*) FROM {q}"),
                &[],
            )?
            .first()
            .map(|r| r.get(0))
            .unwrap_or(0);
        if target_rows == 0 {
            keep.push(t);
            continue;
        }
        if !b.key.is_empty() {
            let target_keys: Vec<&str> = b
                .key
                .iter()
                .filter_map(|k| {
                    t.columns
                        .iter()
                        .find(|c| c.source == *k)
                        .map(|c| c.target.as_str())
                })
                .collect();
            let theirs = target_set(client, &q, &target_keys)?;
            let ours = sqlite_set(sqlite, &t.source, b.key)?;
            if ours != theirs {
                let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
                    let d: Vec<&String> = a.difference(b).take(5).collect();
                    if d.is_empty() {
                        "none".to_string()
                    } else {
                        d.iter()
                            .map(|s| s.replace('\u{1f}', "."))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                return Err(Error::Usage(format!(
                    "{} made the PostgreSQL schema with other migrations than the SQLite \
                     database records in {}: only in SQLite: {}; only in PostgreSQL: {}. Run \
                     the same migrations on both sides (the application's models must be the \
                     same), then load again",
                    b.framework.name(),
                    quote_ident(&t.source),
                    only(&ours, &theirs),
                    only(&theirs, &ours)
                )));
            }
        }
        notes.push(if b.key.is_empty() {
            format!(
                "{} is {}'s own state: the target's copy is kept as it is, not copied",
                quote_ident(&t.target),
                b.framework.name()
            )
        } else {
            format!(
                "{} is {}'s record of applied migrations and the target's copy says the same: \
                 kept as it is, not copied",
                quote_ident(&t.target),
                b.framework.name()
            )
        });
    }
    plan.tables = keep;
    Ok(notes)
}

/// The key columns of every row of a target table, as text joined by a unit separator.
fn target_set(client: &Client, q: &str, keys: &[&str]) -> Result<BTreeSet<String>> {
    let cols: Vec<String> = keys
        .iter()
        .map(|k| format!("coalesce({}::text, '')", quote_ident(k)))
        .collect();
    let sql = format!("SELECT concat_ws(chr(31), {}) FROM {q}", cols.join(", "));
    Ok(client
        .query(&format!("reading the migrations {q} records"), &sql, &[])?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
}

/// The same for the SQLite table.
fn sqlite_set(conn: &rusqlite::Connection, table: &str, keys: &[&str]) -> Result<BTreeSet<String>> {
    let cols: Vec<String> = keys.iter().map(|k| quote_ident(k)).collect();
    let sql = format!("SELECT {} FROM {}", cols.join(", "), quote_ident(table));
    let path = std::path::Path::new(conn.path().unwrap_or("the SQLite database"));
    let fail = |e: rusqlite::Error| {
        crate::sqlite::open::classify_in(path, &format!("reading {}", quote_ident(table)), &e)
    };
    let mut stmt = conn.prepare(&sql).map_err(fail)?;
    let mut rows = stmt.query([]).map_err(fail)?;
    let mut out = BTreeSet::new();
    while let Some(r) = rows.next().map_err(fail)? {
        let mut parts = Vec::new();
        for i in 0..keys.len() {
            parts.push(match r.get_ref(i).map_err(fail)? {
                ValueRef::Null => String::new(),
                ValueRef::Integer(n) => n.to_string(),
                ValueRef::Real(f) => f.to_string(),
                ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            });
        }
        out.insert(parts.join("\u{1f}"));
    }
    Ok(out)
}
