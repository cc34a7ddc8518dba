//! SQLite triggers → PostgreSQL triggers calling PL/pgSQL functions.
//!
//! Each trigger becomes one function and one `CREATE TRIGGER … FOR EACH ROW`, created after
//! the data (the rows already hold what the triggers did in SQLite). SQLite's semantics
//! kept:
//! - `recursive_triggers` is off by default in SQLite: a trigger whose own statements would
//!   fire it again is not fired again. The function sets a transaction-local marker while
//!   its body runs and lets the row through untouched when it finds the marker set. (Other
//!   triggers still fire, as in SQLite; a failed statement rolls the marker back with it.)
//! - `WHEN` is tested inside the function, where subqueries are allowed, as SQLite allows.
//! - `RAISE(ABORT|FAIL|ROLLBACK, msg)` raises SQLSTATE 23000 with the same message (SQLite
//!   reports it as a constraint failure: both reach drivers as an IntegrityError);
//!   `RAISE(IGNORE)` returns NULL, which skips the row in a BEFORE or INSTEAD OF trigger and
//!   ends an AFTER trigger.
//!
//! A trigger that cannot be translated is reported with its reason and SQL, and left out.

mod body;
mod fts_command;
mod header;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::names::Namer;
use super::scope::ScopeColumn;
use super::tables::BuiltTable;
use super::Findings;
use crate::model::{Schema, Trigger};
use crate::pg::{qualified, quote_ident};
use crate::plan::{Created, Ddl, ObjectKind, PlanOptions, Statement, TriggerPlan, ViewPlan};
use body::{Body, Context, Rel};
use header::{Event, Timing};

/// The relations trigger bodies may name: migrated tables (with their rowid) and views.
fn relations(built: &[BuiltTable], views: &[ViewPlan]) -> HashMap<String, Rel> {
    let mut rels = HashMap::new();
    for b in built {
        let mut columns = b.scope.columns.clone();
        if let Some(rowid) = &b.rowid_column {
            let ty = b.types.get(rowid).copied();
            if let Some(ty) = ty {
                for alias in ["rowid", "oid", "_rowid_"] {
                    columns.entry(alias.into()).or_insert_with(|| ScopeColumn {
                        target: rowid.clone(),
                        ty,
                    });
                }
            }
        }
        let types = b
            .plan
            .columns
            .iter()
            .map(|c| (c.target.clone(), c.pg_type.clone()))
            .collect();
        rels.insert(
            b.source.name.to_ascii_lowercase(),
            Rel {
                target: b.plan.target.clone(),
                columns,
                types,
            },
        );
    }
    for v in views.iter().filter(|v| v.translated) {
        rels.insert(
            v.source.to_ascii_lowercase(),
            Rel {
                target: v.target.clone(),
                ..Default::default()
            },
        );
    }
    rels
}

/// The transaction-local setting that marks a trigger's body as running.
fn marker(schema: &str, table: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{schema}\0{table}\0{name}").as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("lite2pg.active_{hex}")
}

/// What one translated trigger is made of.
struct Made {
    function_sql: String,
    trigger_sql: String,
    probes: Vec<String>,
}

/// Translates one trigger; `Err` says why it stays behind.
fn translate_one(
    trig: &Trigger,
    rels: &HashMap<String, Rel>,
    tables: &HashMap<String, String>,
    names: (&str, &str),
    opts: &PlanOptions,
) -> Result<Made, String> {
    let h = header::parse(&trig.sql)?;
    let key = h.table.to_ascii_lowercase();
    let row = rels.get(&key).ok_or_else(|| {
        format!(
            "its table or view `{}` is not migrated (or could not be created)",
            h.table
        )
    })?;
    let is_table = tables.contains_key(&key);
    match (h.timing, is_table) {
        (Timing::InsteadOf, true) => return Err("INSTEAD OF on a table".into()),
        (Timing::Before | Timing::After, false) => {
            return Err("BEFORE/AFTER triggers on a view never fire in SQLite".into())
        }
        _ => {}
    }
    let (tg_name, fn_name) = names;
    let pass = match (h.timing, &h.event) {
        (Timing::After, _) => "NULL",
        (_, Event::Delete) => "OLD",
        _ => "NEW",
    };
    let guc = marker(&opts.schema, &row.target, tg_name);
    let leave = format!("PERFORM set_config('{guc}', 'off', true); ");
    let ctx = Context {
        rels,
        row,
        row_known: is_table,
        schema: &opts.schema,
        leave: &leave,
    };
    let mut out = Body::default();
    let when = match h.when {
        Some(w) => {
            let (sql, probe) = ctx.condition(w)?;
            out.probes.push(probe);
            Some(sql)
        }
        None => None,
    };
    for stmt in h.body {
        ctx.statement(stmt, &mut out)?;
    }
    let event = match &h.event {
        Event::Insert => "INSERT".to_string(),
        Event::Delete => "DELETE".to_string(),
        Event::Update(cols) if cols.is_empty() => "UPDATE".to_string(),
        Event::Update(_) if h.timing == Timing::InsteadOf => {
            return Err(
                "INSTEAD OF UPDATE OF columns: PostgreSQL's INSTEAD OF triggers take no column \
                 list"
                    .into(),
            )
        }
        Event::Update(cols) => {
            let mapped = cols
                .iter()
                .map(|c| {
                    row.columns
                        .get(&c.to_ascii_lowercase())
                        .map(|sc| quote_ident(&sc.target))
                        .ok_or_else(|| format!("UPDATE OF `{c}`, not a column of `{}`", h.table))
                })
                .collect::<Result<Vec<_>, _>>()?;
            format!("UPDATE OF {}", mapped.join(", "))
        }
    };
    let timing = match h.timing {
        Timing::Before => "BEFORE",
        Timing::After => "AFTER",
        Timing::InsteadOf => "INSTEAD OF",
    };
    let mut body = String::new();
    body.push_str("#variable_conflict use_column\nBEGIN\n");
    body.push_str(&format!(
        "  IF current_setting('{guc}', true) = 'on' THEN RETURN {pass}; END IF;\n"
    ));
    if let Some(w) = &when {
        body.push_str(&format!(
            "  IF ({w}) IS NOT TRUE THEN RETURN {pass}; END IF;\n"
        ));
    }
    body.push_str(&format!("  PERFORM set_config('{guc}', 'on', true);\n"));
    for line in &out.lines {
        body.push_str(&format!("  {line}\n"));
    }
    body.push_str(&format!("  {leave}RETURN {pass};\nEND\n"));
    if body.contains("$lite2pg$") {
        return Err("its text holds `$lite2pg$`, the quote of the function body".into());
    }
    let function = qualified(&opts.schema, fn_name);
    Ok(Made {
        function_sql: format!(
            "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $lite2pg$\n{body}$lite2pg$"
        ),
        trigger_sql: format!(
            "CREATE TRIGGER {} {timing} {event} ON {} FOR EACH ROW EXECUTE FUNCTION {function}()",
            quote_ident(tg_name),
            qualified(&opts.schema, &row.target),
        ),
        probes: out.probes,
    })
}

/// Why a BEFORE UPDATE or DELETE trigger may change the row it fires for: its body writes
/// its own table, or a table whose triggers write it.
fn changes_its_own_row(h: &header::Header, all: &[Option<header::Header>]) -> Option<String> {
    if h.timing != Timing::Before || h.event == Event::Insert {
        return None;
    }
    let own = h.table.to_ascii_lowercase();
    let writes = h.writes();
    if writes.contains(&own) {
        return Some(format!("its statements write `{}` itself", h.table));
    }
    all.iter().flatten().find_map(|other| {
        let on = other.table.to_ascii_lowercase();
        (writes.contains(&on) && other.writes().contains(&own)).then(|| {
            format!(
                "its statements write `{}`, whose triggers write `{}`",
                other.table, h.table
            )
        })
    })
}

/// Translates every trigger into `ddl.triggers`; returns each one's outcome.
///
/// A trigger that only keeps external-content FTS tables (`fts_tables`, lower-cased SQLite
/// names) in step is not needed in PostgreSQL, where their `tsvector` is generated from the
/// content row: reported as such, not created.
pub fn translate_triggers(
    schema: &Schema,
    built: &[BuiltTable],
    views: &[ViewPlan],
    fts_tables: &[String],
    opts: &PlanOptions,
    ddl: &mut Ddl,
    f: &mut Findings,
) -> Vec<TriggerPlan> {
    let rels = relations(built, views);
    let tables: HashMap<String, String> = built
        .iter()
        .map(|b| (b.source.name.to_ascii_lowercase(), b.plan.target.clone()))
        .collect();
    let parsed: Vec<Option<header::Header>> = schema
        .triggers
        .iter()
        .map(|t| header::parse(&t.sql).ok())
        .collect();
    let mut trigger_names = Namer::new(opts.identifiers);
    let mut function_names = Namer::new(opts.identifiers);
    let mut out = Vec::new();
    for trig in &schema.triggers {
        let target_table = rels
            .get(&trig.table.to_ascii_lowercase())
            .map(|r| r.target.clone())
            .unwrap_or_else(|| trig.table.clone());
        let (name, _) = trigger_names.map(&trig.name);
        let function = function_names.derived(&format!("lite2pg_trigger_{name}"));
        let mut plan = TriggerPlan {
            source: trig.name.clone(),
            table: trig.table.clone(),
            target_table,
            name,
            function,
            translated: false,
        };
        let keeps_fts = parsed
            .iter()
            .zip(&schema.triggers)
            .find(|(_, t)| t.name == trig.name)
            .and_then(|(h, _)| h.as_ref())
            .map(|h| h.writes())
            .is_some_and(|w| !w.is_empty() && w.iter().all(|t| fts_tables.contains(t)));
        if keeps_fts {
            f.add(
                crate::plan::Severity::Info,
                "trigger.fts_unneeded",
                plan.object(),
                "keeps an external-content FTS table in step: no longer needed, PostgreSQL \
                 generates that table's tsvector from the content row itself",
            );
            out.push(plan);
            continue;
        }
        match translate_one(trig, &rels, &tables, (&plan.name, &plan.function), opts) {
            Ok(made) => {
                plan.translated = true;
                if let Some(why) = parsed
                    .iter()
                    .zip(&schema.triggers)
                    .find(|(_, t)| t.name == trig.name)
                    .and_then(|(h, _)| h.as_ref())
                    .and_then(|h| changes_its_own_row(h, &parsed))
                {
                    f.add(
                        crate::plan::Severity::Warning,
                        "trigger.changes_own_row",
                        plan.object(),
                        format!(
                            "{why}: SQLite allows a BEFORE trigger to change the row being \
                             updated or deleted, PostgreSQL refuses that statement with SQLSTATE \
                             27000 (tuple already modified by an operation triggered by the \
                             current command); make it an AFTER trigger if the order allows"
                        ),
                    );
                }
                ddl.triggers.push(Statement {
                    object: plan.object(),
                    sql: format!("{};\n{}", made.function_sql, made.trigger_sql),
                    optional: true,
                    constraint: None,
                    creates: Created::new(ObjectKind::Function, &opts.schema, &plan.function),
                    parts: None,
                    source: Some(trig.sql.clone()),
                    checks: made.probes,
                });
                f.add(
                    crate::plan::Severity::Info,
                    "trigger.translated",
                    plan.object(),
                    format!(
                        "translated to PL/pgSQL (function {}): created after the data, armed \
                         when PostgreSQL is the primary (at the end of `migrate`, at `cutover`) \
                         and disarmed while `sync` keeps SQLite the primary",
                        quote_ident(&plan.function)
                    ),
                );
            }
            Err(why) => f.left_out(
                "trigger.not_translated",
                plan.object(),
                format!(
                    "trigger left out: {why}; rewrite it by hand if the application relies on it"
                ),
                &trig.sql,
            ),
        }
        out.push(plan);
    }
    out
}
