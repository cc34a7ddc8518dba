//! The schema PostgreSQL has, against the one the plan intended: each table's columns,
//! types, nullability, defaults, identities, CHECK constraints, keys, indexes and foreign
//! keys (and whether those are validated).

use std::collections::{HashMap, HashSet};

use super::report::SchemaFinding;
use super::CatalogTable;
use crate::error::Result;
use crate::pg::{qualified, quote_ident, Client};
use crate::plan::{Plan, RowIdentity, TablePlan};

/// The spelling `format_type` gives a type the plan writes in short form.
fn formatted(pg_type: &str) -> String {
    let t = pg_type.trim();
    if let Some(n) = t.strip_prefix("varchar") {
        return format!("character varying{n}");
    }
    match t {
        "timestamp" => "timestamp without time zone".into(),
        "timestamptz" => "timestamp with time zone".into(),
        "time" => "time without time zone".into(),
        "timetz" => "time with time zone".into(),
        other => other.to_string(),
    }
}

fn finding(table: &str, object: String, expected: &str, found: &str) -> SchemaFinding {
    SchemaFinding {
        table: table.to_string(),
        object,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Compares the catalog with the plan; each difference is a finding.
pub fn check(
    client: &Client,
    plan: &Plan,
    catalog: &HashMap<String, CatalogTable>,
) -> Result<Vec<SchemaFinding>> {
    let mut out = Vec::new();
    for t in &plan.tables {
        match catalog.get(&t.target) {
            Some(cat) => out.extend(check_table(client, plan, t, cat)?),
            None => out.push(finding(&t.target, "table".into(), "present", "missing")),
        }
    }
    if !plan.adopted {
        out.extend(check_keys(client, plan)?);
        out.extend(check_triggers(client, plan)?);
    }
    Ok(out)
}

/// Each translated trigger: present on its table, calling its function, and armed unless
/// `sync` keeps SQLite the primary (then disarmed, so applying SQLite's changes does not
/// fire it a second time).
fn check_triggers(client: &Client, plan: &Plan) -> Result<Vec<SchemaFinding>> {
    let expected: Vec<_> = plan.triggers.iter().filter(|t| t.translated).collect();
    if expected.is_empty() {
        return Ok(Vec::new());
    }
    let schema = &plan.options.schema;
    let sqlite_primary = crate::pg::control::sqlite_is_primary(client, schema)?;
    let found: HashMap<(String, String), (String, String, String)> = client
        .query(
            "listing the target's triggers",
            "SELECT c.relname, t.tgname, p.proname, t.tgenabled::text, c.relkind::text \
             FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_proc p ON p.oid = t.tgfoid WHERE n.nspname = $1 AND NOT t.tgisinternal",
            &[schema],
        )?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4))))
        .collect();
    let mut out = Vec::new();
    for t in expected {
        let problem = match found.get(&(t.target_table.clone(), t.name.clone())) {
            None => Some(("present".to_string(), "missing".to_string())),
            Some((function, _, _)) if *function != t.function => Some((
                format!("calling {}", quote_ident(&t.function)),
                format!("calling {}", quote_ident(function)),
            )),
            Some((_, enabled, relkind)) => {
                // A view's INSTEAD OF triggers cannot be disabled: the appliers never
                // write views, so they stay armed.
                let want_state = if sqlite_primary && relkind != "v" {
                    "disarmed"
                } else {
                    "armed"
                };
                let state = if enabled == "D" { "disarmed" } else { "armed" };
                (state != want_state).then(|| (want_state.to_string(), state.to_string()))
            }
        };
        if let Some((expected, was)) = problem {
            out.push(finding(&t.target_table, t.object(), &expected, &was));
        }
    }
    Ok(out)
}

/// One table's columns (type, nullability, identity, generation, default), columns the
/// plan does not have, and its CHECK count.
fn check_table(
    client: &Client,
    plan: &Plan,
    t: &TablePlan,
    cat: &CatalogTable,
) -> Result<Vec<SchemaFinding>> {
    let schema = &plan.options.schema;
    let mut out = Vec::new();
    let q = qualified(schema, &t.target);
    let create = plan
        .ddl
        .tables
        .iter()
        .find(|s| s.sql.starts_with(&format!("CREATE TABLE {q} ")))
        .map(|s| s.sql.as_str())
        .unwrap_or("");
    for c in &t.columns {
        check_column(t, c, cat, create, plan.adopted, &mut out);
    }
    if plan.adopted {
        // The framework's schema: its other columns, defaults and constraints are its own;
        // what lite2pg answers for is that the columns it filled are there as planned.
        return Ok(out);
    }
    for pc in &cat.columns {
        if !t.columns.iter().any(|c| c.target == pc.name) {
            out.push(finding(
                &t.target,
                format!("column {}", pc.name),
                "absent",
                "present (not in the plan)",
            ));
        }
    }
    let planned_checks = create.matches(" CHECK (").count();
    let checks = client.query(
        "counting CHECK constraints",
        "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid = to_regclass($1)",
        &[&q],
    )?;
    let found_checks: i64 = checks.first().map(|r| r.get(0)).unwrap_or(0);
    if found_checks as usize != planned_checks {
        out.push(finding(
            &t.target,
            "CHECK constraints".into(),
            &planned_checks.to_string(),
            &found_checks.to_string(),
        ));
    }
    Ok(out)
}

/// One planned column against the catalog's.
fn check_column(
    t: &TablePlan,
    c: &crate::plan::ColumnPlan,
    cat: &CatalogTable,
    create: &str,
    adopted: bool,
    out: &mut Vec<SchemaFinding>,
) {
    let object = format!("column {}", c.target);
    let Some(pc) = cat.columns.iter().find(|pc| pc.name == c.target) else {
        out.push(finding(&t.target, object, "present", "missing"));
        return;
    };
    let found_type = pc.formatted.rsplit('.').next().unwrap_or(&pc.formatted);
    let expected = formatted(&c.pg_type);
    if found_type != expected {
        out.push(finding(
            &t.target,
            format!("{object} type"),
            &expected,
            found_type,
        ));
    }
    // A primary key makes its columns NOT NULL in PostgreSQL.
    let in_key = matches!(&t.row_identity, RowIdentity::PrimaryKey { columns } if columns.contains(&c.target));
    let not_null = c.not_null || in_key;
    if pc.not_null != not_null {
        let word = |b: bool| if b { "NOT NULL" } else { "nullable" };
        out.push(finding(
            &t.target,
            format!("{object} nullability"),
            word(not_null),
            word(pc.not_null),
        ));
    }
    if pc.identity != c.identity {
        let word = |b: bool| if b { "identity" } else { "not an identity" };
        out.push(finding(
            &t.target,
            format!("{object} identity"),
            word(c.identity),
            word(pc.identity),
        ));
    }
    if pc.generated != c.generated {
        let word = |b: bool| if b { "generated" } else { "stored" };
        out.push(finding(
            &t.target,
            format!("{object} generated"),
            word(c.generated),
            word(pc.generated),
        ));
    }
    let line = create.lines().find(|l| {
        l.trim_start()
            .starts_with(&format!("{} ", quote_ident(&c.target)))
    });
    let planned_default = line.map(|l| l.contains(" DEFAULT ")).unwrap_or(false);
    // An adopted table's defaults are the framework's, not in any plan.
    if planned_default != pc.has_default && !c.identity && !c.generated && !adopted {
        let word = |b: bool| if b { "a default" } else { "no default" };
        out.push(finding(
            &t.target,
            format!("{object} default"),
            word(planned_default),
            word(pc.has_default),
        ));
    }
}

/// Keys, indexes and foreign keys, by name: present, of the planned kind, validated.
fn check_keys(client: &Client, plan: &Plan) -> Result<Vec<SchemaFinding>> {
    let schema = &plan.options.schema;
    let mut out = Vec::new();
    let indexes: HashSet<String> = client
        .query(
            "listing the target's indexes",
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'i'",
            &[schema],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let constraints: HashMap<String, (String, bool, String)> = client
        .query(
            "listing the target's constraints",
            "SELECT k.conname, k.contype::text, k.convalidated, c.relname FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1",
            &[schema],
        )?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    for s in plan.ddl.indexes.iter().chain(&plan.ddl.foreign_keys) {
        let Some((kind, name)) = s.object.split_once(" \"") else {
            continue;
        };
        let name = name.trim_end_matches('"').replace("\"\"", "\"");
        let table = table_of(&s.sql, schema).unwrap_or_default();
        let expect = |code: &str| -> Option<SchemaFinding> {
            match constraints.get(&name) {
                Some((c, _, _)) if c == code => None,
                Some((c, _, _)) => Some(finding(
                    &table,
                    s.object.clone(),
                    kind,
                    &format!("a constraint of type {c}"),
                )),
                None => Some(finding(&table, s.object.clone(), "present", "missing")),
            }
        };
        let problem = match kind {
            "primary key" => expect("p"),
            "unique" => expect("u"),
            "foreign key" => match constraints.get(&name) {
                Some((c, true, _)) if c == "f" => None,
                Some((c, false, _)) if c == "f" => Some(finding(
                    &table,
                    s.object.clone(),
                    "validated",
                    "NOT VALID (orphan rows)",
                )),
                _ => Some(finding(&table, s.object.clone(), "present", "missing")),
            },
            _ if indexes.contains(&name) => None,
            _ => Some(finding(&table, s.object.clone(), "present", "missing")),
        };
        out.extend(problem);
    }
    Ok(out)
}

/// The table a DDL statement is on: the first `"schema"."name"` after `ON` or `ALTER TABLE`.
fn table_of(sql: &str, schema: &str) -> Option<String> {
    let prefix = format!("{}.", quote_ident(schema));
    let at = sql.find(&prefix)? + prefix.len();
    let rest = &sql[at..];
    let rest = rest.strip_prefix('"')?;
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                name.push('"');
            } else {
                break;
            }
        } else {
            name.push(c);
        }
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names_read_as_format_type_spells_them() {
        assert_eq!(formatted("varchar(32)"), "character varying(32)");
        assert_eq!(formatted("timestamptz"), "timestamp with time zone");
        assert_eq!(formatted("numeric(12,2)"), "numeric(12,2)");
        assert_eq!(formatted("bigint"), "bigint");
    }

    #[test]
    fn the_table_of_a_statement_is_read_from_its_quoted_name() {
        assert_eq!(
            table_of(r#"CREATE INDEX "i" ON "public"."we""ird" ("a")"#, "public").as_deref(),
            Some("we\"ird")
        );
    }
}
