//! Builds the neutral [`Schema`] from a SQLite database.
//!
//! PRAGMAs (through their table-valued forms, so names are bound, never spliced) give
//! columns, keys, indexes and foreign keys; `ddl_text` adds CHECKs, collations, generated
//! expressions and deferrability from the stored `CREATE` text.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::ddl_text;
use super::open::{classify, Source};
use crate::error::Result;
use crate::model::*;

/// Reads the whole schema of an opened source.
pub fn introspect(src: &Source) -> Result<Schema> {
    let conn = &src.conn;
    let e = |err: rusqlite::Error| classify(&src.path, &err);
    let mut schema = Schema {
        sqlite_version: rusqlite::version().to_string(),
        ..Default::default()
    };

    let sequences = read_sequences(conn).map_err(e)?;
    let kinds = table_kinds(conn).map_err(e)?;

    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
        .map_err(e)?;
    let entries: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(e)?
        .collect::<rusqlite::Result<_>>()
        .map_err(e)?;

    for (kind, name, tbl_name, sql) in entries {
        let sql = sql.unwrap_or_default();
        match kind.as_str() {
            "table" => {
                let lower = name.to_ascii_lowercase();
                if lower.starts_with("sqlite_") || lower.starts_with("_lite2pg_") {
                    schema.skipped.push(SkippedObject {
                        name,
                        kind: "internal table".into(),
                        reason: "SQLite or lite2pg bookkeeping, not application data".into(),
                    });
                    continue;
                }
                let info = kinds.get(&name).cloned().unwrap_or_default();
                if info.kind == "shadow" {
                    schema.skipped.push(SkippedObject {
                        name,
                        kind: "shadow table".into(),
                        reason: "storage of a virtual table (e.g. an FTS index); it is rebuilt \
                                 from the virtual table's content, not copied"
                            .into(),
                    });
                    continue;
                }
                match read_table(conn, &name, &sql, &info, sequences.get(&name).copied()) {
                    Ok(t) => schema.tables.push(t),
                    Err(err) => schema.skipped.push(SkippedObject {
                        name,
                        kind: if info.kind == "virtual" {
                            "virtual table"
                        } else {
                            "table"
                        }
                        .into(),
                        reason: format!("cannot be read here: {err}"),
                    }),
                }
            }
            "view" => match ddl_text::parse_create_view(&sql) {
                Ok((columns, select)) => schema.views.push(View {
                    name,
                    columns,
                    select,
                    sql,
                }),
                Err(err) => schema.skipped.push(SkippedObject {
                    name,
                    kind: "view".into(),
                    reason: format!("its SQL cannot be read: {err}"),
                }),
            },
            // Capture and guard triggers of `sync`/`cutover` are lite2pg's, not the app's.
            "trigger" if name.to_ascii_lowercase().starts_with("_lite2pg_") => {}
            "trigger" => schema.triggers.push(Trigger {
                name,
                table: tbl_name,
                sql,
            }),
            _ => {}
        }
    }

    let mut unknown: Vec<String> = Vec::new();
    for t in &schema.tables {
        let colls = t.columns.iter().filter_map(|c| c.collation.clone()).chain(
            t.indexes
                .iter()
                .flat_map(|i| i.items.iter().map(|it| it.collation.clone())),
        );
        for c in colls {
            if !matches!(c.as_str(), "BINARY" | "NOCASE" | "RTRIM") && !unknown.contains(&c) {
                unknown.push(c);
            }
        }
    }
    schema.unknown_collations = unknown;
    Ok(schema)
}

#[derive(Debug, Clone, Default)]
struct TableKind {
    kind: String,
    without_rowid: bool,
    strict: bool,
}

fn table_kinds(conn: &Connection) -> rusqlite::Result<HashMap<String, TableKind>> {
    let mut stmt =
        conn.prepare("SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            TableKind {
                kind: r.get(1)?,
                without_rowid: r.get::<_, i64>(2)? != 0,
                strict: r.get::<_, i64>(3)? != 0,
            },
        ))
    })?;
    rows.collect()
}

fn read_sequences(conn: &Connection) -> rusqlite::Result<HashMap<String, i64>> {
    let exists: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    if exists == 0 {
        return Ok(HashMap::new());
    }
    let mut stmt = conn.prepare("SELECT name, seq FROM sqlite_sequence")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?.unwrap_or(0),
        ))
    })?;
    rows.collect()
}

fn read_table(
    conn: &Connection,
    name: &str,
    sql: &str,
    kind: &TableKind,
    sequence: Option<i64>,
) -> std::result::Result<Table, String> {
    let parsed = ddl_text::parse_create_table(sql).unwrap_or_default();
    let virtual_module =
        (kind.kind == "virtual").then(|| ddl_text::virtual_module(sql).unwrap_or_default());

    let mut stmt = conn
        .prepare(
            "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid",
        )
        .map_err(|e| e.to_string())?;
    let raw: Vec<(String, String, bool, Option<String>, u32, i64)> = stmt
        .query_map(params![name], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                r.get::<_, i64>(2)? != 0,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(|e| e.to_string())?
        .collect::<rusqlite::Result<_>>()
        .map_err(|e| e.to_string())?;
    if raw.is_empty() {
        return Err("no columns reported".into());
    }

    let by_name: HashMap<String, &ddl_text::ParsedColumn> = parsed
        .columns
        .iter()
        .map(|c| (c.name.to_ascii_lowercase(), c))
        .collect();
    let pk_count = raw.iter().filter(|c| c.4 > 0).count();
    let mut columns = Vec::new();
    for (cname, declared, not_null, default, pk, hidden) in raw {
        if hidden == 1 {
            continue; // hidden columns of virtual tables
        }
        let p = by_name.get(&cname.to_ascii_lowercase());
        let generated = match (hidden, p.and_then(|p| p.generated.clone())) {
            (2 | 3, Some((expr, _))) => Some(Generated {
                expr,
                stored: hidden == 3,
            }),
            _ => None,
        };
        let rowid_alias = pk == 1
            && pk_count == 1
            && !kind.without_rowid
            && declared.eq_ignore_ascii_case("INTEGER")
            && !p.is_some_and(|p| p.pk_desc);
        columns.push(Column {
            name: cname,
            declared_type: declared,
            not_null,
            default,
            collation: p.and_then(|p| p.collation.clone()),
            generated,
            pk_position: pk,
            rowid_alias,
        });
    }
    let mut pk: Vec<&Column> = columns.iter().filter(|c| c.pk_position > 0).collect();
    pk.sort_by_key(|c| c.pk_position);
    let primary_key = pk.iter().map(|c| c.name.clone()).collect();

    let indexes = read_indexes(conn, name).map_err(|e| e.to_string())?;
    let foreign_keys = read_foreign_keys(conn, name, &parsed).map_err(|e| e.to_string())?;
    let checks = parsed
        .checks
        .iter()
        .map(|(n, c, e)| Check {
            name: n.clone(),
            column: c.clone(),
            expr: e.clone(),
        })
        .collect();

    Ok(Table {
        name: name.to_string(),
        columns,
        primary_key,
        without_rowid: kind.without_rowid,
        strict: kind.strict,
        autoincrement: parsed.autoincrement,
        sequence,
        indexes,
        foreign_keys,
        checks,
        virtual_module,
        sql: sql.to_string(),
    })
}

fn read_indexes(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Index>> {
    let mut stmt = conn
        .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1) ORDER BY seq DESC")?;
    let list: Vec<(String, bool, String)> = stmt
        .query_map(params![table], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (name, unique, origin) in list {
        let sql: Option<String> = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                params![name],
                |r| r.get(0),
            )
            .unwrap_or(None);
        let parsed = sql
            .as_deref()
            .and_then(|s| ddl_text::parse_create_index(s).ok());
        let mut xi = conn.prepare(
            "SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
        )?;
        let keys: Vec<(i64, Option<String>, bool, Option<String>)> = xi
            .query_map(params![name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let items = keys
            .into_iter()
            .enumerate()
            .map(|(i, (cid, cname, desc, coll))| {
                let target = match (cid, cname) {
                    (-1, _) => IndexTarget::Rowid,
                    (_, Some(c)) if cid >= 0 => IndexTarget::Column(c),
                    _ => IndexTarget::Expr(
                        parsed
                            .as_ref()
                            .and_then(|p| p.items.get(i))
                            .map(|it| it.expr.clone())
                            .unwrap_or_default(),
                    ),
                };
                IndexItem {
                    target,
                    collation: coll.unwrap_or_else(|| "BINARY".into()).to_ascii_uppercase(),
                    desc,
                }
            })
            .collect();
        out.push(Index {
            name,
            unique,
            origin: match origin.as_str() {
                "pk" => IndexOrigin::PrimaryKey,
                "u" => IndexOrigin::Unique,
                _ => IndexOrigin::Create,
            },
            items,
            predicate: parsed.and_then(|p| p.predicate),
            sql,
        });
    }
    Ok(out)
}

fn read_foreign_keys(
    conn: &Connection,
    table: &str,
    parsed: &ddl_text::ParsedTable,
) -> rusqlite::Result<Vec<ForeignKey>> {
    let mut stmt = conn.prepare(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id DESC, seq",
    )?;
    let rows: Vec<(i64, String, String, Option<String>, String, String)> = stmt
        .query_map(params![table], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out: Vec<(i64, ForeignKey)> = Vec::new();
    for (id, ref_table, from, to, on_update, on_delete) in rows {
        match out.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.columns.push(from);
                if let Some(to) = to {
                    fk.ref_columns.push(to);
                }
            }
            _ => out.push((
                id,
                ForeignKey {
                    columns: vec![from],
                    ref_table,
                    ref_columns: to.into_iter().collect(),
                    on_update,
                    on_delete,
                    deferred: false,
                },
            )),
        }
    }
    let mut fks: Vec<ForeignKey> = out.into_iter().map(|(_, fk)| fk).collect();
    for fk in &mut fks {
        let cols: Vec<String> = fk.columns.iter().map(|c| c.to_ascii_lowercase()).collect();
        let target = fk.ref_table.to_ascii_lowercase();
        fk.deferred = parsed
            .fks
            .iter()
            .any(|(c, t, d)| *d && *c == cols && *t == target);
    }
    Ok(fks)
}
