//! Views: the SELECT is parsed, its relations and columns renamed, its functions mapped.
//!
//! Views are created in dependency order; a view that cannot be translated (or depends on
//! one that could not) is reported with its SQL and left out.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{Ident, ObjectName};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::expr::rewrite;
use super::names::Namer;
use super::refs::{last_part, Refs};
use super::scope::{Position, Scope};
use super::tables::BuiltTable;
use super::Findings;
use crate::model::Schema;
use crate::pg::{qualified, quote_ident};
use crate::plan::{Created, Ddl, ObjectKind, PlanOptions, Statement, ViewPlan};
use crate::sqlite::ddl_text;
use crate::sqlite::ddl_text::misprinted;

/// A relation a view may read: a table or an earlier view.
struct Readable {
    target: String,
    scope: Scope,
}

fn translate_view(
    select: &str,
    readable: &HashMap<String, Readable>,
    opts: &PlanOptions,
) -> Result<String, String> {
    let tokens = ddl_text::tokenize(select)?;
    ddl_text::printable(&tokens)?;
    let mut query = Parser::new(&SQLiteDialect {})
        .with_recursion_limit(100)
        .with_tokens(tokens)
        .parse_query()
        .map_err(|e| format!("cannot parse the SELECT: {e}"))?;
    let refs = Refs::of(&query);

    let mut scope = Scope {
        lenient: true,
        ..Default::default()
    };
    for (rel, alias) in &refs.factors {
        if refs.ctes.contains(rel) {
            continue;
        }
        let r = readable.get(rel).ok_or_else(|| {
            format!("reads `{rel}`, which is not migrated (or could not be created)")
        })?;
        for (k, v) in &r.scope.columns {
            scope.columns.entry(k.clone()).or_insert_with(|| v.clone());
        }
        scope.qualified.insert(rel.clone(), r.scope.columns.clone());
        scope.relations.insert(rel.clone(), r.target.clone());
        if let Some(a) = alias {
            scope.qualified.insert(a.clone(), r.scope.columns.clone());
        }
    }
    if let Some(r) = readable.values().find(|r| misprinted(&r.target, '"')) {
        return Err(format!(
            "table name {} holds a backslash before a quote, or two quotes in a row, which \
             the SQL printer would not escape",
            quote_ident(&r.target)
        ));
    }
    if misprinted(&opts.schema, '"') {
        return Err("the schema name cannot be printed safely in a view".into());
    }
    let schema = opts.schema.clone();
    let ctes = refs.ctes.clone();
    let _ = sqlparser::ast::visit_relations_mut(&mut *query, |name| {
        let key = last_part(name).to_ascii_lowercase();
        if !ctes.contains(&key) {
            if let Some(r) = readable.get(&key) {
                *name = ObjectName::from(vec![
                    Ident::with_quote('"', schema.as_str()),
                    Ident::with_quote('"', r.target.as_str()),
                ]);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    rewrite(&mut *query, &scope, Position::View)?;
    super::expr::checked_output(query.to_string())
}

/// Translates all views, in dependency order, into `ddl.views`.
pub fn translate_views(
    schema: &Schema,
    names: &[(String, Option<super::names::Renamed>)],
    built: &[BuiltTable],
    opts: &PlanOptions,
    ddl: &mut Ddl,
    f: &mut Findings,
) -> Vec<ViewPlan> {
    let mut readable: HashMap<String, Readable> = built
        .iter()
        .map(|b| {
            (
                b.source.name.to_ascii_lowercase(),
                Readable {
                    target: b.plan.target.clone(),
                    scope: b.scope.clone(),
                },
            )
        })
        .collect();
    let mut pending: Vec<usize> = (0..schema.views.len()).collect();
    let mut outcome: HashMap<usize, Result<(), String>> = HashMap::new();
    loop {
        let mut progressed = false;
        let mut still = Vec::new();
        for i in pending {
            let v = &schema.views[i];
            match translate_view(&v.select, &readable, opts) {
                Ok(select) => {
                    let target = &names[i].0;
                    let mut cols = Namer::new(opts.identifiers);
                    let col_list = if v.columns.is_empty() {
                        String::new()
                    } else {
                        let mapped: Vec<String> = v
                            .columns
                            .iter()
                            .map(|c| quote_ident(&cols.map(c).0))
                            .collect();
                        format!(" ({})", mapped.join(", "))
                    };
                    ddl.views.push(Statement {
                        object: format!("view {}", quote_ident(target)),
                        sql: format!(
                            "CREATE VIEW {}{col_list} AS {select}",
                            qualified(&opts.schema, target)
                        ),
                        optional: true,
                        constraint: None,
                        creates: Created::new(ObjectKind::View, &opts.schema, target),
                        parts: None,
                        source: Some(v.sql.clone()),
                        checks: Vec::new(),
                    });
                    // Later views see this one's columns by their own (lower-cased) names.
                    let scope = Scope {
                        lenient: true,
                        ..Default::default()
                    };
                    readable.insert(
                        v.name.to_ascii_lowercase(),
                        Readable {
                            target: target.clone(),
                            scope,
                        },
                    );
                    outcome.insert(i, Ok(()));
                    progressed = true;
                }
                Err(why) => {
                    outcome.insert(i, Err(why));
                    still.push(i);
                }
            }
        }
        pending = still;
        if !progressed || pending.is_empty() {
            break;
        }
    }
    schema
        .views
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let translated = matches!(outcome.get(&i), Some(Ok(())));
            if let Some(Err(why)) = outcome.get(&i) {
                f.left_out(
                    "view.not_translated",
                    format!("view {}", quote_ident(&v.name)),
                    format!("view left out: {why}"),
                    &v.sql,
                );
            }
            ViewPlan {
                source: v.name.clone(),
                target: names[i].0.clone(),
                translated,
            }
        })
        .collect()
}
