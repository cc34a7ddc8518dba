//! Phase 2 of one table: its primary key, unique constraints and indexes (partial,
//! expression and NOCASE ones included), each built by `migrate` as an index first.

use super::expr::translate;
use super::names::Namer;
use super::scope::Position;
use super::tables::BuiltTable;
use super::Findings;
use crate::model::{IndexOrigin, IndexTarget};
use crate::pg::{qualified, quote_ident};
use crate::plan::{Constraint, Ddl, PgType, PlanOptions, RowIdentity, Statement};

/// Phase 2: primary keys, unique constraints and indexes of one table.
pub fn emit_indexes(
    b: &BuiltTable,
    opts: &PlanOptions,
    relations: &mut Namer,
    ddl: &mut Ddl,
    f: &mut Findings,
) {
    let t = &b.source;
    let target = &b.plan.target;
    let qname = qualified(&opts.schema, target);
    if !b.pk.is_empty() {
        let name = relations.derived(&format!("{target}_pkey"));
        ddl.indexes.push(key_constraint(&qname, &name, true, &b.pk));
    } else if !t.primary_key.is_empty() {
        // NULLs in the key: carried as UNIQUE, see the finding.
        let plain: Vec<String> = t
            .primary_key
            .iter()
            .filter_map(|k| b.scope.column(k))
            .map(|c| c.target.clone())
            .collect();
        let name = relations.derived(&format!("{target}_key"));
        ddl.indexes
            .push(key_constraint(&qname, &name, false, &plain));
    }
    if let RowIdentity::AddedRowid { column } = &b.plan.row_identity {
        let name = relations.derived(&format!("{target}_{column}_key"));
        let cols = [column.clone()];
        ddl.indexes
            .push(key_constraint(&qname, &name, false, &cols));
    }
    for idx in &t.indexes {
        if idx.origin != IndexOrigin::PrimaryKey {
            emit_index(b, idx, &qname, relations, ddl, f);
        }
    }
}

/// `ADD CONSTRAINT … PRIMARY KEY | UNIQUE` on plain `columns`, which `migrate` builds as a
/// unique index first.
fn key_constraint(qname: &str, name: &str, primary: bool, columns: &[String]) -> Statement {
    let kind = if primary { "PRIMARY KEY" } else { "UNIQUE" };
    let printed: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    Statement {
        object: format!(
            "{} {}",
            if primary { "primary key" } else { "unique" },
            quote_ident(name)
        ),
        sql: format!(
            "ALTER TABLE {qname} ADD CONSTRAINT {} {kind} ({})",
            quote_ident(name),
            printed.join(", ")
        ),
        optional: false,
        creates: None,
        parts: None,
        source: None,
        checks: Vec::new(),
        constraint: Some(Constraint::Key {
            table: qname.to_string(),
            name: name.to_string(),
            primary,
            columns: columns.to_vec(),
        }),
    }
}

/// One index's key items, printed, and the plain columns among them; `Err` says why the
/// index cannot be carried.
fn index_keys(
    b: &BuiltTable,
    idx: &crate::model::Index,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut keys = Vec::new();
    let mut plain_cols = Vec::new();
    for item in &idx.items {
        let (expr, plain) = match &item.target {
            IndexTarget::Column(c) => {
                let sc = b
                    .scope
                    .column(c)
                    .ok_or_else(|| format!("unknown column {c}"))?;
                match (item.collation.as_str(), sc.ty) {
                    ("NOCASE", ty) if ty.is_text() && ty != PgType::Citext => (
                        format!("(CAST({} AS citext))", quote_ident(&sc.target)),
                        None,
                    ),
                    ("BINARY", PgType::Citext) => {
                        (format!("(CAST({} AS text))", quote_ident(&sc.target)), None)
                    }
                    _ => (quote_ident(&sc.target), Some(sc.target.clone())),
                }
            }
            IndexTarget::Rowid => {
                let r = b
                    .rowid_column
                    .as_ref()
                    .ok_or("indexes the rowid of a table without one")?;
                (quote_ident(r), Some(r.clone()))
            }
            IndexTarget::Expr(e) => (
                format!("({})", translate(e, &b.scope, Position::IndexKey)?),
                None,
            ),
        };
        plain_cols.extend(plain);
        keys.push(if item.desc {
            format!("{expr} DESC")
        } else {
            expr
        });
    }
    Ok((keys, plain_cols))
}

/// One SQLite index (or UNIQUE constraint): a constraint when it is a UNIQUE on plain
/// columns, else `CREATE [UNIQUE] INDEX`, with its predicate; left out and reported when a
/// key or the predicate cannot be translated.
fn emit_index(
    b: &BuiltTable,
    idx: &crate::model::Index,
    qname: &str,
    relations: &mut Namer,
    ddl: &mut Ddl,
    f: &mut Findings,
) {
    let (t, target) = (&b.source, &b.plan.target);
    let what = match idx.origin {
        IndexOrigin::Create => format!("index {}", quote_ident(&idx.name)),
        _ => format!("UNIQUE constraint on {}", quote_ident(&t.name)),
    };
    let sql_text = idx.sql.as_deref().unwrap_or("");
    let (keys, plain_cols) = match index_keys(b, idx) {
        Ok(k) => k,
        Err(why) => {
            f.left_out(
                "index.not_translated",
                what,
                format!("left out: {why}"),
                sql_text,
            );
            return;
        }
    };
    let predicate = match &idx.predicate {
        Some(p) => match translate(p, &b.scope, Position::Predicate) {
            Ok(s) => Some(s),
            Err(why) => {
                let msg = if idx.unique {
                    format!("partial UNIQUE index left out (its predicate cannot be translated: {why}); uniqueness is not enforced")
                } else {
                    format!("partial index left out (its predicate cannot be translated: {why})")
                };
                f.left_out("index.not_translated", what, msg, sql_text);
                return;
            }
        },
        None => None,
    };
    if idx.origin == IndexOrigin::Unique && plain_cols.len() == idx.items.len() {
        let name = relations.derived(&format!("{target}_{}_key", plain_cols.join("_")));
        ddl.indexes
            .push(key_constraint(qname, &name, false, &plain_cols));
        return;
    }
    let wanted = match idx.origin {
        IndexOrigin::Create => {
            let (n, how) = relations.map(&idx.name);
            f.renamed("index", &idx.name, &n, how);
            n
        }
        _ => relations.derived(&format!("{target}_key")),
    };
    let unique = if idx.unique { "UNIQUE " } else { "" };
    let mut sql = format!(
        "CREATE {unique}INDEX {} ON {qname} ({})",
        quote_ident(&wanted),
        keys.join(", ")
    );
    if let Some(p) = predicate {
        sql.push_str(&format!(" WHERE {p}"));
    }
    ddl.indexes.push(Statement {
        object: format!("index {}", quote_ident(&wanted)),
        sql,
        optional: idx.origin == IndexOrigin::Create && !idx.unique,
        creates: None,
        parts: None,
        source: idx.sql.clone(),
        checks: Vec::new(),
        constraint: Some(Constraint::Index {
            table: qname.to_string(),
        }),
    });
}
