//! What a `--data-only` run holds for its load on tables it did not make: the target's
//! foreign keys (dropped, recorded with their definitions, added back `NOT VALID` and
//! validated after the load), its plain indexes (dropped, built again per table once its
//! rows are in: maintaining them row by row costs more than one build) and its enabled user
//! triggers (disabled, enabled after it).
//! Everything is recorded in `lite2pg.held` first, so a resumed run finds what it holds
//! and `rollback --run` restores what a run that did not finish still holds.

use uuid::Uuid;

use crate::error::Result;
use crate::pg::catalog::{self, switch_trigger};
use crate::pg::{qualified, quote_ident, quote_literal, Client};
use crate::plan::{Constraint, Plan, Statement};

/// Holds the target's foreign keys and user triggers on the tables `plan` loads, for the
/// load: each is recorded in `lite2pg.held` and dropped (a key) or disabled (a trigger) in
/// one transaction. A resumed run finds them held already and changes nothing.
pub fn hold(client: &mut Client, run: Uuid, plan: &Plan) -> Result<()> {
    let schema = &plan.options.schema;
    let held: i64 = client
        .query(
            "reading what this run holds",
            "SELECT count(*) FROM lite2pg.held WHERE run_id = $1",
            &[&run],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    if held > 0 {
        return Ok(());
    }
    let catalog = catalog::tables(client, schema)?;
    let indexes = catalog::plain_indexes(client, schema)?;
    let mut sql = String::from("BEGIN;\n");
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    for t in &plan.tables {
        let Some(cat) = catalog.get(&t.target) else {
            continue;
        };
        let q = qualified(schema, &cat.name);
        for (name, def) in &cat.foreign_keys {
            sql.push_str(&format!(
                "ALTER TABLE {q} DROP CONSTRAINT {};\n",
                quote_ident(name)
            ));
            rows.push((
                cat.name.clone(),
                "foreign_key".into(),
                name.clone(),
                def.clone(),
            ));
        }
        for (name, def) in indexes.get(&cat.name).into_iter().flatten() {
            sql.push_str(&format!("DROP INDEX {};\n", qualified(schema, name)));
            rows.push((cat.name.clone(), "index".into(), name.clone(), def.clone()));
        }
        for trigger in &cat.triggers {
            sql.push_str(&switch_trigger(&q, trigger, false));
            rows.push((
                cat.name.clone(),
                "trigger".into(),
                trigger.clone(),
                String::new(),
            ));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    for (table, kind, name, def) in &rows {
        sql.push_str(&format!(
            "INSERT INTO lite2pg.held (run_id, table_schema, table_name, kind, name, definition) \
             VALUES ({}, {}, {}, {}, {}, {});\n",
            quote_literal(&run.to_string()),
            quote_literal(schema),
            quote_literal(table),
            quote_literal(kind),
            quote_literal(name),
            quote_literal(def)
        ));
    }
    sql.push_str("COMMIT;");
    client.batch_execute(
        "holding the target's foreign keys and triggers for the load",
        &sql,
    )
}

/// The statements that add back the foreign keys run `run` holds, for the constraint
/// phase (`NOT VALID`, then validated, orphans reported).
pub fn foreign_keys(client: &Client, run: Uuid) -> Result<Vec<Statement>> {
    Ok(client
        .query(
            "reading the foreign keys held for the load",
            "SELECT table_schema, table_name, name, definition FROM lite2pg.held \
             WHERE run_id = $1 AND kind = 'foreign_key' ORDER BY held_at, table_name, name",
            &[&run],
        )?
        .iter()
        .map(|r| {
            held_foreign_key(
                &r.get::<_, String>(0),
                &r.get::<_, String>(1),
                &r.get::<_, String>(2),
                &r.get::<_, String>(3),
            )
        })
        .collect())
}

/// The statements that build again the plain indexes run `run` holds, for the index
/// builds that start on each table once its rows are in (a resumed run skips those it
/// built before).
pub fn indexes(client: &Client, run: Uuid) -> Result<Vec<Statement>> {
    Ok(client
        .query(
            "reading the indexes held for the load",
            "SELECT table_schema, table_name, name, definition FROM lite2pg.held \
             WHERE run_id = $1 AND kind = 'index' ORDER BY table_name, name",
            &[&run],
        )?
        .iter()
        .map(|r| Statement {
            object: format!("index {}", quote_ident(&r.get::<_, String>(2))),
            sql: r.get(3),
            optional: false,
            constraint: Some(Constraint::Index {
                table: qualified(&r.get::<_, String>(0), &r.get::<_, String>(1)),
            }),
            creates: None,
            parts: None,
            source: None,
            checks: Vec::new(),
        })
        .collect())
}

/// Enables the triggers [`hold`] disabled and marks every held item of `run` restored
/// (the foreign keys were added back by the constraint phase).
pub fn release(client: &Client, run: Uuid) -> Result<()> {
    let triggers = client.query(
        "reading the triggers held for the load",
        "SELECT table_schema, table_name, name FROM lite2pg.held \
         WHERE run_id = $1 AND kind = 'trigger' AND restored_at IS NULL",
        &[&run],
    )?;
    let mut sql = String::from("BEGIN;\n");
    for r in &triggers {
        sql.push_str(&switch_trigger(
            &qualified(&r.get::<_, String>(0), &r.get::<_, String>(1)),
            &r.get::<_, String>(2),
            true,
        ));
    }
    sql.push_str(&format!(
        "UPDATE lite2pg.held SET restored_at = now() WHERE run_id = {} AND restored_at IS NULL;\n\
         COMMIT;",
        quote_literal(&run.to_string())
    ));
    client.batch_execute("enabling the triggers held for the load", &sql)
}

/// What `rollback --run` restores of a data-only run that did not finish: its held foreign
/// keys (added back `NOT VALID`: the rows loaded so far may hold orphans) and triggers.
pub fn restore_held(client: &Client, run: &str) -> Result<usize> {
    let rows = client.query(
        "reading what the run held",
        "SELECT table_schema, table_name, kind, name, definition FROM lite2pg.held \
         WHERE run_id::text = $1 AND restored_at IS NULL",
        &[&run],
    )?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = String::from("BEGIN;\n");
    for r in &rows {
        let table = qualified(&r.get::<_, String>(0), &r.get::<_, String>(1));
        let name = quote_ident(&r.get::<_, String>(3));
        if r.get::<_, String>(2) == "trigger" {
            sql.push_str(&switch_trigger(&table, &r.get::<_, String>(3), true));
        } else if r.get::<_, String>(2) == "index" {
            // Built again as the application's migration made it (IF NOT EXISTS: the
            // killed run may have built it already).
            let def = r.get::<_, String>(4);
            sql.push_str(&format!(
                "{};\n",
                def.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
            ));
        } else {
            sql.push_str(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {} NOT VALID;\n",
                r.get::<_, String>(4)
            ));
        }
    }
    sql.push_str(&format!(
        "UPDATE lite2pg.held SET restored_at = now() WHERE run_id::text = {} AND restored_at IS NULL;\n\
         COMMIT;",
        quote_literal(run)
    ));
    client.batch_execute("restoring the foreign keys and triggers the run held", &sql)?;
    Ok(rows.len())
}

/// The statement that adds a held foreign key back, as the constraint phase builds it
/// (`NOT VALID`, then validated, orphans reported).
fn held_foreign_key(schema: &str, table: &str, name: &str, definition: &str) -> Statement {
    let q = qualified(schema, table);
    let (columns, ref_table, ref_columns) = parse_foreign_key(schema, definition);
    Statement {
        object: format!("foreign key {}", quote_ident(name)),
        sql: format!(
            "ALTER TABLE {q} ADD CONSTRAINT {} {definition}",
            quote_ident(name)
        ),
        optional: false,
        creates: None,
        parts: None,
        checks: Vec::new(),
        source: None,
        constraint: Some(Constraint::Foreign {
            table: q,
            name: name.to_string(),
            columns,
            ref_table,
            ref_columns,
        }),
    }
}

/// Columns, referenced table and referenced columns of a `pg_get_constraintdef` foreign
/// key (`FOREIGN KEY (a, b) REFERENCES t(x, y) …`), for the orphan report.
fn parse_foreign_key(schema: &str, def: &str) -> (Vec<String>, String, Vec<String>) {
    let list = |s: &str| -> Vec<String> {
        split_names(s.trim().trim_start_matches('(').trim_end_matches(')'))
    };
    let after_fk = def.strip_prefix("FOREIGN KEY ").unwrap_or(def);
    let (cols, rest) = after_fk
        .split_once(") REFERENCES ")
        .unwrap_or((after_fk, ""));
    let (table, refs) = rest.split_once('(').unwrap_or((rest, ""));
    let refs = refs.split_once(')').map(|(r, _)| r).unwrap_or(refs);
    let table = table.trim();
    // A table outside the search path is printed qualified, else bare.
    let ref_table = if table.contains('.') {
        table.to_string()
    } else {
        qualified(schema, &unquote(table))
    };
    (list(cols), ref_table, split_names(refs))
}

fn split_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_definitions_are_taken_apart_for_the_orphan_report() {
        let (cols, table, refs) = parse_foreign_key(
            "app",
            "FOREIGN KEY (author_id, \"Odd\"\"col\") REFERENCES books(id, \"x\") DEFERRABLE \
             INITIALLY DEFERRED",
        );
        assert_eq!(cols, ["author_id", "Odd\"col"]);
        assert_eq!(table, "\"app\".\"books\"");
        assert_eq!(refs, ["id", "x"]);
        let (_, table, _) = parse_foreign_key("app", "FOREIGN KEY (a) REFERENCES other.t(id)");
        assert_eq!(table, "other.t");
    }
}
