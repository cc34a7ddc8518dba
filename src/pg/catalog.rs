//! What the target already holds, read from PostgreSQL's catalog: the tables of a schema
//! with their columns' actual types, nullability, defaults, identities and sequences,
//! primary keys, foreign keys and user triggers. `--data-only` loads into these as they
//! are, whatever made them (a framework's migrations, or hand-written DDL).

use std::collections::HashMap;

use super::{quote_ident, Client};

/// `ALTER TABLE … ENABLE|DISABLE TRIGGER …;` for one trigger: `table` already qualified,
/// the trigger's name quoted here. Every switch of a trigger (held for a load, armed or
/// disarmed for the primary) is this statement.
pub fn switch_trigger(table: &str, trigger: &str, enable: bool) -> String {
    let verb = if enable { "ENABLE" } else { "DISABLE" };
    format!(
        "ALTER TABLE {table} {verb} TRIGGER {};\n",
        quote_ident(trigger)
    )
}
use crate::error::Result;

/// A table of the target schema.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Primary-key columns in key order (empty: none).
    pub primary_key: Vec<String>,
    /// Foreign keys this table holds: (name, definition as `pg_get_constraintdef` prints it).
    pub foreign_keys: Vec<(String, String)>,
    /// Its enabled user triggers.
    pub triggers: Vec<String>,
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, Default)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// `pg_type.typname` of its type (of the base type, for a domain).
    pub typname: String,
    /// `t` base, `e` enum, `d` domain, … (`pg_type.typtype` of the column's own type).
    pub typtype: String,
    /// The type as `format_type` prints it (`numeric(10,2)`, `character varying(40)`).
    pub formatted: String,
    /// `atttypmod` (-1: none).
    pub typmod: i32,
    /// `NOT NULL`.
    pub not_null: bool,
    /// Has a default (a sequence's `nextval` included).
    pub has_default: bool,
    /// An identity column.
    pub identity: bool,
    /// A generated column (computed by PostgreSQL, never written).
    pub generated: bool,
    /// The sequence behind it (serial or identity), qualified and quoted.
    pub sequence: Option<String>,
}

/// The plain indexes of `schema`'s tables (neither unique nor behind a constraint), by
/// table: (index name, its `CREATE INDEX` as `pg_get_indexdef` prints it).
pub fn plain_indexes(
    client: &Client,
    schema: &str,
) -> Result<HashMap<String, Vec<(String, String)>>> {
    let rows = client.query(
        "reading the target's indexes",
        "SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND NOT x.indisunique AND NOT x.indisprimary \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) \
         ORDER BY c.relname, i.relname",
        &[&schema],
    )?;
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in rows {
        out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
    }
    Ok(out)
}

/// Every ordinary and partitioned table of `schema`, by name.
pub fn tables(client: &Client, schema: &str) -> Result<HashMap<String, Table>> {
    let rows = client.query(
        "reading the target's tables and columns",
        "SELECT c.relname, a.attname, \
                coalesce(bt.typname, t.typname), t.typtype::text, \
                format_type(a.atttypid, a.atttypmod), \
                CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, \
                a.attnotnull, a.atthasdef, a.attidentity <> '', a.attgenerated <> '', \
                pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum",
        &[&schema],
    )?;
    let mut out: HashMap<String, Table> = HashMap::new();
    for r in rows {
        let name: String = r.get(0);
        let t = out.entry(name.clone()).or_insert_with(|| Table {
            name,
            ..Table::default()
        });
        t.columns.push(Column {
            name: r.get(1),
            typname: r.get(2),
            typtype: r.get(3),
            formatted: r.get(4),
            typmod: r.get(5),
            not_null: r.get(6),
            has_default: r.get(7),
            identity: r.get(8),
            generated: r.get(9),
            sequence: r.get(10),
        });
    }
    let constraints = client.query(
        "reading the target's keys and foreign keys",
        "SELECT c.relname, k.contype::text, k.conname, pg_get_constraintdef(k.oid), \
                array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, o) \
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n \
                      ORDER BY u.o) \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND k.contype IN ('p', 'f') ORDER BY c.relname, k.conname",
        &[&schema],
    )?;
    for r in constraints {
        let Some(t) = out.get_mut(&r.get::<_, String>(0)) else {
            continue;
        };
        match r.get::<_, String>(1).as_str() {
            "p" => t.primary_key = r.get(4),
            _ => t.foreign_keys.push((r.get(2), r.get(3))),
        }
    }
    let triggers = client.query(
        "reading the target's triggers",
        "SELECT c.relname, g.tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND NOT g.tgisinternal AND g.tgenabled <> 'D' \
           AND g.tgname NOT LIKE '\\_lite2pg\\_%' ORDER BY c.relname, g.tgname",
        &[&schema],
    )?;
    for r in triggers {
        if let Some(t) = out.get_mut(&r.get::<_, String>(0)) {
            t.triggers.push(r.get(1));
        }
    }
    Ok(out)
}
