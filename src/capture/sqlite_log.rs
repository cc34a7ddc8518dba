//! Change capture on the SQLite side: triggers that record the key of every changed row.
//!
//! `AFTER INSERT/UPDATE/DELETE` triggers on each captured table append to
//! `_lite2pg_changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl, op, old_key, new_key, at)`
//! only the row's key (the old and the new key of an update, which may differ). Keys are
//! written with SQLite's own `quote()`, joined by commas: core SQL that every SQLite an
//! application may link has, so the unmodified application keeps writing, in any language,
//! from any process, with no extension loaded. `quote()` writes reals with enough digits to
//! read back exactly. The applier (issue 5) reads the current rows for those keys.

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::pg::{quote_ident, quote_literal};

/// The one-row table whose `applying` flag lite2pg's own writes set inside their transaction,
/// so its triggers skip them (no change loops back) and its guards let them through. No other
/// connection ever sees the flag set: SQLite has one writer, and the flag is cleared before
/// the transaction commits.
pub const CTL: &str = "_lite2pg_ctl";

/// The change log.
pub const CHANGES: &str = "_lite2pg_changes";
/// Every trigger and table lite2pg creates in the SQLite file starts with this.
pub const PREFIX: &str = "_lite2pg_";

/// A table to capture, and the values its triggers log to find the row again.
#[derive(Debug, Clone)]
pub struct CaptureTable {
    /// SQLite table name.
    pub name: String,
    /// Logged columns, SQLite names; `rowid` (or `_rowid_`/`oid` when a column takes
    /// that name) reaches the rowid.
    pub key: Vec<String>,
    /// The unique keys over plain columns, each column with the collation its index
    /// compares by: `REPLACE` deletes rows holding a new row's values in any of them
    /// without a DELETE trigger firing, so a BEFORE trigger logs those rows' keys.
    pub uniques: Vec<Vec<(String, String)>>,
}

impl CaptureTable {
    /// What to log for `table`, chosen from its declaration alone, because capture is armed
    /// before the plan (which profiles the data) exists: a rowid table logs its rowid, then
    /// the columns of a primary key that is not the rowid itself (the plan keys PostgreSQL by
    /// those, or by the rowid when they hold NULLs), or, without any key, every column (a
    /// table the application's framework made without a key in PostgreSQL is followed as a
    /// multiset of rows, so the values a change replaced are needed); a `WITHOUT ROWID`
    /// table logs its key.
    pub fn for_table(table: &crate::model::Table) -> Option<CaptureTable> {
        if table.virtual_module.is_some() {
            return None;
        }
        let mut key = Vec::new();
        if !table.without_rowid {
            key.push(table.rowid_name()?.to_string());
            if table.columns.iter().any(|c| c.rowid_alias) {
                return Some(CaptureTable {
                    name: table.name.clone(),
                    key,
                    uniques: replaceable_uniques(table),
                });
            }
        } else if table.primary_key.is_empty() {
            return None;
        }
        if table.primary_key.is_empty() {
            key.extend(table.columns.iter().map(|c| c.name.clone()));
        } else {
            key.extend(table.primary_key.iter().cloned());
        }
        Some(CaptureTable {
            name: table.name.clone(),
            key,
            uniques: replaceable_uniques(table),
        })
    }
}

/// The unique indexes of `table` a REPLACE can delete rows through, as (column, collation)
/// lists. Partial indexes count whole (logging a key that was not deleted costs one re-read);
/// an index on an expression or in an application-defined collation is left to the
/// applier's conflict check in PostgreSQL, since the trigger could not evaluate it.
fn replaceable_uniques(table: &crate::model::Table) -> Vec<Vec<(String, String)>> {
    table
        .indexes
        .iter()
        .filter(|i| i.unique)
        .filter_map(|i| {
            i.items
                .iter()
                .map(|item| match &item.target {
                    crate::model::IndexTarget::Column(c)
                        if ["BINARY", "NOCASE", "RTRIM"].contains(&item.collation.as_str()) =>
                    {
                        Some((c.clone(), item.collation.clone()))
                    }
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
        })
        .filter(|cols| !cols.is_empty())
        .collect()
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `INSERT`
    Insert,
    /// `UPDATE`
    Update,
    /// `DELETE`
    Delete,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Position in the log.
    pub seq: i64,
    /// SQLite table name.
    pub table: String,
    /// What happened.
    pub op: Op,
    /// The key before (updates and deletes).
    pub old_key: Option<Vec<Value>>,
    /// The key after (inserts and updates).
    pub new_key: Option<Vec<Value>>,
    /// When it was made, as a julian day (SQLite's clock).
    pub at: f64,
}

/// A logged column as SQL: the rowid's names stay bare, since quoting one would name a column.
fn key_column(c: &str) -> String {
    if crate::model::ROWID_NAMES.contains(&c) {
        c.to_string()
    } else {
        quote_ident(c)
    }
}

fn key_expr(row: &str, key: &[String]) -> String {
    key.iter()
        .map(|c| format!("quote({row}.{})", key_column(c)))
        .collect::<Vec<_>>()
        .join(" || ',' || ")
}

fn trigger_name(op: &str, table: &str) -> String {
    quote_ident(&format!("{PREFIX}{op}_{table}"))
}

/// The guard's condition: true unless lite2pg itself is writing.
const NOT_APPLYING: &str = "WHEN (SELECT applying FROM _lite2pg_ctl) = 0";

fn ctl_sql() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {CTL} (applying INTEGER NOT NULL);\n\
         INSERT INTO {CTL} (applying) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {CTL});\n"
    )
}

/// The SQL that arms capture on `tables` (log table and triggers), in one script.
pub fn arm_sql(tables: &[CaptureTable]) -> String {
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {CHANGES} (\n    seq INTEGER PRIMARY KEY AUTOINCREMENT,\n    \
         tbl TEXT NOT NULL,\n    op TEXT NOT NULL CHECK (op IN ('I', 'U', 'D')),\n    \
         old_key TEXT,\n    new_key TEXT,\n    at REAL NOT NULL DEFAULT (julianday('now'))\n);\n"
    );
    sql.push_str(&ctl_sql());
    for t in tables {
        let q = quote_ident(&t.name);
        let name = quote_literal(&t.name);
        let new_key = key_expr("NEW", &t.key);
        let old_key = key_expr("OLD", &t.key);
        sql.push_str(&format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {q} {NOT_APPLYING} BEGIN \
             INSERT INTO {CHANGES} (tbl, op, new_key) VALUES ({name}, 'I', {new_key}); END;\n\
             CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {q} {NOT_APPLYING} BEGIN \
             INSERT INTO {CHANGES} (tbl, op, old_key, new_key) VALUES ({name}, 'U', {old_key}, {new_key}); END;\n\
             CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {q} {NOT_APPLYING} BEGIN \
             INSERT INTO {CHANGES} (tbl, op, old_key) VALUES ({name}, 'D', {old_key}); END;\n",
            trigger_name("ins", &t.name),
            trigger_name("upd", &t.name),
            trigger_name("del", &t.name),
        ));
        sql.push_str(&replaced_rows_sql(t));
    }
    sql
}

/// BEFORE INSERT and BEFORE UPDATE OF the unique columns: log as deleted every other row
/// holding the new values in a unique key, the rows `INSERT OR REPLACE` / `UPDATE OR
/// REPLACE` are about to delete silently. The applier re-reads each logged key, so a row
/// that a plain INSERT or UPDATE then leaves in place (the statement failing or ignored)
/// costs a re-read, never a wrong row; without this, a replaced row stayed in PostgreSQL
/// whenever the row that replaced it was gone or changed by the time sync read it.
fn replaced_rows_sql(t: &CaptureTable) -> String {
    if t.uniques.is_empty() {
        return String::new();
    }
    let q = quote_ident(&t.name);
    let name = quote_literal(&t.name);
    let matches = t
        .uniques
        .iter()
        .map(|cols| {
            let eq = cols
                .iter()
                .map(|(c, coll)| {
                    let c = quote_ident(c);
                    format!("o.{c} = NEW.{c} COLLATE {coll}")
                })
                .collect::<Vec<_>>()
                .join(" AND ");
            format!("({eq})")
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let old_key = key_expr("o", &t.key);
    let other = t
        .key
        .iter()
        .map(|c| {
            let c = key_column(c);
            format!("o.{c} IS OLD.{c}")
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut columns: Vec<String> = t
        .uniques
        .iter()
        .flatten()
        .map(|(c, _)| quote_ident(c))
        .collect();
    columns.sort();
    columns.dedup();
    format!(
        "CREATE TRIGGER IF NOT EXISTS {} BEFORE INSERT ON {q} {NOT_APPLYING} BEGIN \
         INSERT INTO {CHANGES} (tbl, op, old_key) SELECT {name}, 'D', {old_key} FROM {q} AS o \
         WHERE {matches}; END;\n\
         CREATE TRIGGER IF NOT EXISTS {} BEFORE UPDATE OF {} ON {q} {NOT_APPLYING} BEGIN \
         INSERT INTO {CHANGES} (tbl, op, old_key) SELECT {name}, 'D', {old_key} FROM {q} AS o \
         WHERE ({matches}) AND NOT ({other}); END;\n",
        trigger_name("replins", &t.name),
        trigger_name("replupd", &t.name),
        columns.join(", "),
    )
}

/// Drops the capture triggers of `tables` (the log stays).
pub fn drop_capture_sql(tables: &[CaptureTable]) -> String {
    let mut sql = String::new();
    for t in tables {
        for op in ["ins", "upd", "del", "replins", "replupd"] {
            sql.push_str(&format!(
                "DROP TRIGGER IF EXISTS {};\n",
                trigger_name(op, &t.name)
            ));
        }
    }
    sql
}

/// Guards that refuse every write to `tables` with `message`, except lite2pg's own.
pub fn guard_sql(tables: &[String], message: &str) -> String {
    let mut sql = ctl_sql();
    let msg = quote_literal(message);
    for t in tables {
        let q = quote_ident(t);
        for (op, what) in [("gins", "INSERT"), ("gupd", "UPDATE"), ("gdel", "DELETE")] {
            sql.push_str(&format!(
                "CREATE TRIGGER IF NOT EXISTS {} BEFORE {what} ON {q} {NOT_APPLYING} BEGIN \
                 SELECT RAISE(ABORT, {msg}); END;\n",
                trigger_name(op, t)
            ));
        }
    }
    sql
}

/// Whether any of `tables` carries a cutover's write guards.
pub fn guarded(conn: &Connection, tables: &[String]) -> rusqlite::Result<bool> {
    let mut stmt =
        conn.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?1")?;
    for t in tables {
        let n: i64 = stmt.query_row([format!("{PREFIX}gins_{t}")], |r| r.get(0))?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Drops the guards of `tables`.
pub fn unguard_sql(tables: &[String]) -> String {
    let mut sql = String::new();
    for t in tables {
        for op in ["gins", "gupd", "gdel"] {
            sql.push_str(&format!(
                "DROP TRIGGER IF EXISTS {};\n",
                trigger_name(op, t)
            ));
        }
    }
    sql
}

/// Sets (inside the caller's write transaction) or clears the flag that makes lite2pg's
/// triggers let a write through uncaptured.
pub fn set_applying(conn: &Connection, on: bool) -> rusqlite::Result<()> {
    conn.execute(&format!("UPDATE {CTL} SET applying = ?1"), [on as i64])
        .map(|_| ())
}

/// Arms capture on `tables` in one transaction; returns the log's high-water mark.
pub fn arm(conn: &mut Connection, tables: &[CaptureTable]) -> rusqlite::Result<i64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(&arm_sql(tables))?;
    let hw = high_water(&tx)?;
    tx.commit()?;
    Ok(hw)
}

/// Removes every trigger and table lite2pg created in the file.
pub fn disarm(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // The application's own triggers, parked while PostgreSQL was the primary, come back.
    super::app_triggers::restore_sqlite(&tx)?;
    let mut objects: Vec<(String, String)> = Vec::new();
    {
        let mut stmt = tx.prepare(
            "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'table') \
             AND substr(name, 1, length(?1)) = ?1 ORDER BY type = 'table'",
        )?;
        let rows = stmt.query_map([PREFIX], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            objects.push(r?);
        }
    }
    for (kind, name) in objects {
        let what = if kind == "trigger" {
            "TRIGGER"
        } else {
            "TABLE"
        };
        tx.execute_batch(&format!("DROP {what} IF EXISTS {}", quote_ident(&name)))?;
    }
    // AUTOINCREMENT's counter for the log.
    let has_sequence: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    if has_sequence {
        tx.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [CHANGES])?;
    }
    tx.commit()
}

/// The highest position in the log (0 when empty or not armed).
pub fn high_water(conn: &Connection) -> rusqlite::Result<i64> {
    let armed: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [CHANGES],
        |r| r.get(0),
    )?;
    if !armed {
        return Ok(0);
    }
    // AUTOINCREMENT's counter: the last position ever given, even once the log is trimmed
    // or emptied (a cutover empties it), so positions continue from it.
    conn.query_row(
        &format!(
            "SELECT max(coalesce((SELECT max(seq) FROM {CHANGES}), 0), \
                        coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{CHANGES}'), 0))"
        ),
        [],
        |r| r.get(0),
    )
}

/// Whether changes after `applied` were removed from the log unapplied: its first entry
/// after `applied` is not the next position, or the log ends before the last position given.
/// (Positions come from AUTOINCREMENT, without gaps; only trimming removes entries.)
pub fn lost_after(conn: &Connection, applied: i64) -> rusqlite::Result<Option<(i64, i64)>> {
    let first: Option<i64> = conn.query_row(
        &format!("SELECT min(seq) FROM {CHANGES} WHERE seq > ?1"),
        [applied],
        |r| r.get(0),
    )?;
    let next = match first {
        Some(f) => f,
        None => high_water(conn)? + 1,
    };
    Ok((next > applied + 1).then_some((applied + 1, next - 1)))
}

/// How many changes follow position `after`, and when the oldest of them was made (julian
/// day).
pub fn pending(conn: &Connection, after: i64) -> rusqlite::Result<(i64, Option<f64>)> {
    if high_water(conn)? == 0 {
        return Ok((0, None));
    }
    conn.query_row(
        &format!("SELECT count(*), min(at) FROM {CHANGES} WHERE seq > ?1"),
        [after],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Up to `limit` changes after position `after`, in order.
pub fn read_changes(conn: &Connection, after: i64, limit: usize) -> Result<Vec<Change>, String> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT seq, tbl, op, old_key, new_key, at FROM {CHANGES} WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(rusqlite::params![after, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, f64>(5)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in rows {
        let (seq, table, op, old, new, at) = r.map_err(|e| e.to_string())?;
        let op = match op.as_str() {
            "I" => Op::Insert,
            "U" => Op::Update,
            "D" => Op::Delete,
            other => return Err(format!("change {seq}: unknown operation {other}")),
        };
        let decode = |k: Option<String>| -> Result<Option<Vec<Value>>, String> {
            k.map(|k| decode_key(&k).map_err(|e| format!("change {seq}: {e}")))
                .transpose()
        };
        out.push(Change {
            seq,
            table,
            op,
            old_key: decode(old)?,
            new_key: decode(new)?,
            at,
        });
    }
    Ok(out)
}

/// Reads back values written by `quote(a) || ',' || quote(b) …`: `NULL`, integers, reals,
/// `'text'` (quotes doubled) and `X'hex'` blobs. No SQL is evaluated.
pub fn decode_key(s: &str) -> Result<Vec<Value>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        let start = i;
        let value = match b.get(i) {
            Some(b'\'') => {
                let mut text = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                            text.push(b'\'');
                            i += 2;
                        }
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            text.push(c);
                            i += 1;
                        }
                        None => return Err(format!("unterminated text in key {s}")),
                    }
                }
                Value::Text(String::from_utf8(text).map_err(|_| format!("key {s} is not UTF-8"))?)
            }
            Some(b'X') if b.get(i + 1) == Some(&b'\'') => {
                let end = s[i + 2..]
                    .find('\'')
                    .ok_or_else(|| format!("unterminated blob in key {s}"))?;
                let hex = &s[i + 2..i + 2 + end];
                i += 3 + end;
                let bytes: Result<Vec<u8>, _> = (0..hex.len())
                    .step_by(2)
                    .map(|k| u8::from_str_radix(hex.get(k..k + 2).unwrap_or("zz"), 16))
                    .collect();
                Value::Blob(bytes.map_err(|_| format!("bad blob in key {s}"))?)
            }
            Some(_) => {
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                let token = &s[start..i];
                if token == "NULL" {
                    Value::Null
                } else if let Ok(n) = token.parse::<i64>() {
                    Value::Integer(n)
                } else if let Ok(f) = token.parse::<f64>() {
                    Value::Real(f)
                } else {
                    return Err(format!("cannot read {token:?} in key {s}"));
                }
            }
            None => return Err(format!("empty key part in {s:?}")),
        };
        out.push(value);
        match b.get(i) {
            None => return Ok(out),
            Some(b',') => i += 1,
            Some(_) => return Err(format!("unexpected text after a value in key {s}")),
        }
    }
}

/// sha256 over the `CREATE TABLE` text of `tables` in the SQLite file: any change to a synced
/// table's definition changes it.
pub fn schema_digest(conn: &Connection, tables: &[String]) -> rusqlite::Result<String> {
    use sha2::{Digest, Sha256};
    let mut names: Vec<&String> = tables.iter().collect();
    names.sort();
    let mut h = Sha256::new();
    let mut stmt =
        conn.prepare_cached("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
    for n in names {
        let sql: Option<String> =
            stmt.query_row([n], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
        h.update(n.as_bytes());
        h.update([0]);
        h.update(sql.unwrap_or_default().as_bytes());
        h.update([0]);
    }
    Ok(crate::copy::keys::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_written_by_quote_read_back_exactly() {
        let conn = Connection::open_in_memory().unwrap();
        let text: String = conn
            .query_row(
                "SELECT quote(42) || ',' || quote('a,''b') || ',' || quote(x'00ff') || ',' \
                 || quote(NULL) || ',' || quote(0.1 + 0.2) || ',' || quote(-7)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            decode_key(&text).unwrap(),
            vec![
                Value::Integer(42),
                Value::Text("a,'b".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
                Value::Real(0.1 + 0.2),
                Value::Integer(-7),
            ]
        );
        assert!(decode_key("'open").is_err());
        assert!(decode_key("1;DROP").is_err());
    }
}
