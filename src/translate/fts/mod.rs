//! FTS3/4/5 virtual tables → searchable PostgreSQL tables.
//!
//! An FTS table's text is indexed by a generated `tsvector` column named after the FTS
//! table, with a GIN index, so `WHERE docs MATCH 'q'` reads `WHERE docs @@
//! websearch_to_tsquery('simple', 'q')`:
//! - an FTS table holding its own text becomes a table with its columns, its rowid (in a
//!   column named `rowid`) and the `tsvector`;
//! - an external-content one (`content=tbl`) is not copied: the content table gets the
//!   `tsvector` over the FTS columns, and a view of the FTS table's name shows it with the
//!   rowid, so its text is stored once, as in SQLite;
//! - a contentless one (`content=''`) keeps no text to index: carried as rows and reported.
//!
//! The text-search configuration follows the tokenizer: `porter` stems English words
//! (`english`); every other tokenizer splits and lower-cases (`simple`).

mod options;

pub use options::{parse, Fts};

use crate::model::{Schema, Table};
use crate::pg::{qualified, quote_ident, quote_literal};
use crate::plan::clauses::Fragment;
use crate::plan::{
    ColumnPlan, Constraint, Created, Ddl, ObjectKind, PgType, PlanOptions, Severity, Statement,
    ViewPlan,
};
use crate::sqlite::Affinity;

use super::names::Namer;
use super::tables::BuiltTable;
use super::Findings;

/// The `tsvector` over `columns` (PostgreSQL names) in `config`.
fn tsvector(columns: &[String], config: &str) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "to_tsvector({}::regconfig, coalesce({}, ''))",
                quote_literal(config),
                quote_ident(c)
            )
        })
        .collect();
    if parts.is_empty() {
        "''::tsvector".into()
    } else {
        parts.join(" || ")
    }
}

/// Adds to `b` a generated `tsvector` column named `column` over the FTS columns (SQLite
/// names, looked up in `b`), and a GIN index on it; returns the index statement.
fn add_search(
    b: &mut BuiltTable,
    column: &str,
    index: &str,
    fts: &Fts,
    schema: &str,
    f: &mut Findings,
    object: &str,
) -> Result<Statement, String> {
    let mut targets = Vec::new();
    for (name, indexed) in &fts.columns {
        if !indexed {
            continue;
        }
        let c = b.scope.column(name).ok_or_else(|| {
            format!(
                "FTS column `{name}` is not a column of {}",
                quote_ident(&b.plan.target)
            )
        })?;
        if !c.ty.is_text() {
            return Err(format!("FTS column `{name}` is not text in PostgreSQL"));
        }
        targets.push(c.target.clone());
    }
    if b.plan.columns.iter().any(|c| c.target == column) {
        return Err(format!(
            "{} already has a column {}",
            quote_ident(&b.plan.target),
            quote_ident(column)
        ));
    }
    let (config, differs) = fts.config();
    let expr = tsvector(&targets, config);
    let def: Vec<Fragment> = vec![(
        format!(
            "{} tsvector GENERATED ALWAYS AS ({expr}) STORED",
            quote_ident(column)
        ),
        None,
    )];
    if let Some(parts) = b.create.parts.as_mut() {
        parts.defs.push(def);
        b.create.sql = parts.sql();
    }
    b.types.insert(column.to_string(), PgType::Text);
    b.plan.columns.push(ColumnPlan {
        source: String::new(),
        target: column.to_string(),
        declared_type: format!("{} index", fts.module),
        affinity: Affinity::Text,
        storage: Default::default(),
        pg_type: "tsvector".into(),
        ty: PgType::Text,
        reason: format!(
            "added: the {} index, generated from {}",
            fts.module,
            targets.join(", ")
        ),
        conversion: crate::plan::Conversion::AsIs,
        not_null: false,
        generated: true,
        identity: false,
        rejected_rows: 0,
        source_form: None,
    });
    let table = qualified(schema, &b.plan.target);
    f.add(
        Severity::Info,
        "fts.searchable",
        object.to_string(),
        format!(
            "{module} table made searchable: column {col} of {tbl} is a tsvector ({config}) with \
             a GIN index; `WHERE {fts} MATCH 'q'` reads `WHERE {col} @@ \
             websearch_to_tsquery('{config}', 'q')`, ranked by `ts_rank({col}, query)` instead of \
             bm25(); {differs}",
            module = fts.module,
            col = quote_ident(column),
            tbl = quote_ident(&b.plan.target),
            fts = column,
        ),
    );
    Ok(Statement {
        object: format!("index {}", quote_ident(index)),
        sql: format!(
            "CREATE INDEX {} ON {table} USING gin ({})",
            quote_ident(index),
            quote_ident(column)
        ),
        optional: true,
        constraint: Some(Constraint::Index { table }),
        creates: None,
        parts: None,
        source: None,
        checks: Vec::new(),
    })
}

/// The external-content FTS tables of `schema` (content in another table of it), taken
/// out of the tables to copy: their text is the content table's.
pub fn split_external(schema: &Schema) -> (Schema, Vec<(Table, Fts)>) {
    let mut kept = schema.clone();
    let mut external = Vec::new();
    kept.tables.retain(|t| {
        let Some(fts) = t.virtual_module.as_ref().and_then(|_| parse(&t.sql)) else {
            return true;
        };
        let content = fts.content.clone().unwrap_or_default();
        let found = !content.is_empty()
            && schema
                .tables
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&content) && c.virtual_module.is_none());
        if found {
            external.push((t.clone(), fts));
        }
        !found
    });
    (kept, external)
}

/// Makes every FTS table searchable (module doc): its own text indexed in place, or an
/// external content table indexed and shown through a view of the FTS table's name.
/// Index statements go to `ddl.indexes`, views to `ddl.views`; returns the views' plans.
pub fn make_searchable(
    built: &mut [BuiltTable],
    external: &[(Table, Fts)],
    external_names: &[String],
    opts: &PlanOptions,
    relations: &mut Namer,
    ddl: &mut Ddl,
    f: &mut Findings,
) -> Vec<ViewPlan> {
    for b in built.iter_mut() {
        let Some(fts) = b
            .source
            .virtual_module
            .as_ref()
            .and_then(|_| parse(&b.source.sql))
        else {
            continue;
        };
        let object = format!("table {}", quote_ident(&b.source.name));
        if fts.content.is_some() {
            f.add(
                Severity::Warning,
                "fts.not_searchable",
                object,
                format!(
                    "{} table without text of its own (content={}): its rows are carried, \
                     but there is no text to index; index the content in PostgreSQL by hand",
                    fts.module,
                    quote_literal(fts.content.as_deref().unwrap_or_default())
                ),
            );
            continue;
        }
        let column = b.plan.target.clone();
        let index = relations.derived(&format!("{column}_search"));
        match add_search(b, &column, &index, &fts, &opts.schema, f, &object) {
            Ok(stmt) => ddl.indexes.push(stmt),
            Err(why) => f.add(Severity::Warning, "fts.not_searchable", object, why),
        }
    }
    let mut views = Vec::new();
    for ((t, fts), target) in external.iter().zip(external_names) {
        let object = format!("table {}", quote_ident(&t.name));
        let content = fts.content.clone().unwrap_or_default();
        let Some(b) = built
            .iter_mut()
            .find(|b| b.source.name.eq_ignore_ascii_case(&content))
        else {
            continue;
        };
        let made =
            (|| -> Result<String, String> {
                let rowid = match &fts.content_rowid {
                    Some(c) => b.scope.target(c).ok_or_else(|| {
                        format!("content_rowid `{c}` is not a column of `{content}`")
                    })?,
                    None => b
                        .rowid_column
                        .clone()
                        .ok_or_else(|| format!("`{content}` keeps no rowid in PostgreSQL"))?,
                };
                let mut cols = vec![format!("{} AS \"rowid\"", quote_ident(&rowid))];
                for (name, _) in &fts.columns {
                    let c = b.scope.target(name).ok_or_else(|| {
                        format!("FTS column `{name}` is not a column of `{content}`")
                    })?;
                    cols.push(quote_ident(&c));
                }
                cols.push(quote_ident(target));
                let index = relations.derived(&format!("{target}_search"));
                let stmt = add_search(b, target, &index, fts, &opts.schema, f, &object)?;
                ddl.indexes.push(stmt);
                Ok(format!(
                    "CREATE VIEW {} AS SELECT {} FROM {}",
                    qualified(&opts.schema, target),
                    cols.join(", "),
                    qualified(&opts.schema, &b.plan.target)
                ))
            })();
        match made {
            Ok(sql) => {
                f.add(
                    Severity::Info,
                    "fts.external_content",
                    object.clone(),
                    format!(
                        "external content: its text is {}'s, indexed there; view {} shows \
                         it with the rowid, and the FTS table is not copied a second time",
                        quote_ident(&b.plan.target),
                        quote_ident(target)
                    ),
                );
                ddl.views.push(Statement {
                    object: format!("view {}", quote_ident(target)),
                    sql,
                    optional: true,
                    constraint: None,
                    creates: Created::new(ObjectKind::View, &opts.schema, target),
                    parts: None,
                    source: Some(t.sql.clone()),
                    checks: Vec::new(),
                });
                views.push(ViewPlan {
                    source: t.name.clone(),
                    target: target.clone(),
                    translated: true,
                });
            }
            Err(why) => {
                f.left_out(
                    "fts.not_searchable",
                    object,
                    format!("external-content FTS table left out: {why}"),
                    &t.sql,
                );
                views.push(ViewPlan {
                    source: t.name.clone(),
                    target: target.clone(),
                    translated: false,
                });
            }
        }
    }
    views
}
