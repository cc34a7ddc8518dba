//! `lite2pg rollback --run ID`, before any cutover: removes exactly the tables, views,
//! schema and extension one migrate run created, as that run recorded them in
//! `lite2pg.objects`, and nothing else.

use crate::error::{Error, Result};
use crate::pg::{control, qualified, quote_ident, TargetChoice};
use crate::plan::ObjectKind;

/// `lite2pg rollback --run ID` (before any cutover): removes exactly the tables, views,
/// schema and extension run `ID` created, as recorded in `lite2pg.objects`.
pub fn rollback_run(target: &TargetChoice, run: &str) -> Result<i32> {
    let client = control::connect_to_control(target, "no run to roll back")?;
    let rows = client.query(
        "reading the run",
        "SELECT target_schema, status FROM lite2pg.runs WHERE id::text = $1",
        &[&run],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Usage(format!("no run {run} is recorded in {}", client.target())))?;
    let schema: String = row.get(0);
    let status: String = row.get(1);
    if status == "rolled_back" {
        crate::output::write(None, &format!("run {run} was rolled back already\n"))?;
        return Ok(0);
    }
    let cut: bool = client
        .query(
            "reading the sync state",
            "SELECT count(*) > 0 FROM lite2pg.sync_state WHERE target_schema = $1 \
             AND primary_side = 'postgresql'",
            &[&schema],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if cut {
        return Err(Error::Usage(format!(
            "schema {} was cut over: PostgreSQL is the primary and holds the application's \
             writes; `lite2pg rollback` switches back without dropping anything",
            quote_ident(&schema)
        )));
    }
    let objects = client.query(
        "reading what the run created",
        "SELECT kind, schema_name, name FROM lite2pg.objects \
         WHERE run_id::text = $1 AND kind IS NOT NULL ORDER BY seq DESC",
        &[&run],
    )?;
    let (mut views, mut tables, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for o in &objects {
        let kind: String = o.get(0);
        let in_schema: String = o.get(1);
        let name: String = o.get(2);
        match ObjectKind::parse(&kind) {
            Some(ObjectKind::View) => views.push(qualified(&in_schema, &name)),
            Some(ObjectKind::Table) => tables.push(qualified(&in_schema, &name)),
            Some(ObjectKind::Schema) => {
                rest.push(format!("DROP SCHEMA IF EXISTS {}", quote_ident(&name)))
            }
            Some(ObjectKind::Extension) => {
                rest.push(format!("DROP EXTENSION IF EXISTS {}", quote_ident(&name)))
            }
            // After the tables, which take the triggers calling it along.
            Some(ObjectKind::Function) => rest.push(format!(
                "DROP FUNCTION IF EXISTS {}()",
                qualified(&in_schema, &name)
            )),
            None => {}
        }
    }
    // No CASCADE: an object someone else built on these makes the drop fail, by name.
    let mut sql = String::from("BEGIN;\n");
    if !views.is_empty() {
        sql.push_str(&format!("DROP VIEW IF EXISTS {};\n", views.join(", ")));
    }
    if !tables.is_empty() {
        sql.push_str(&format!("DROP TABLE IF EXISTS {};\n", tables.join(", ")));
    }
    client
        .batch_execute(
            &format!("dropping the tables and views run {run} created"),
            &sql,
        )
        .map_err(|e| match e {
            Error::Postgres {
                context,
                message,
                sqlstate,
            } => Error::Postgres {
                context,
                sqlstate,
                message: format!(
                    "{message}; nothing was dropped: remove what depends on these tables first"
                ),
            },
            other => other,
        })?;
    client.query(
        "marking the run rolled back",
        "UPDATE lite2pg.runs SET status = 'rolled_back', updated_at = now() WHERE id::text = $1",
        &[&run],
    )?;
    // A sync built on these tables has nothing to apply to now: the next `sync` migrates
    // again. Its capture in the SQLite file is not this run's to remove (`finish` does).
    let synced: i64 = client
        .query(
            "detaching the sync from the removed tables",
            "WITH d AS (UPDATE lite2pg.sync_state SET run_id = NULL, updated_at = now() \
             WHERE run_id::text = $1 RETURNING 1) SELECT count(*) FROM d",
            &[&run],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    client.batch_execute("committing", "COMMIT")?;
    // A --data-only run that did not finish may still hold the target's foreign keys and
    // triggers.
    let restored = super::held::restore_held(&client, run)?;
    let mut kept = Vec::new();
    for stmt in rest {
        // A schema or extension that others use now stays; say so.
        if client.batch_execute("dropping", &stmt).is_err() {
            kept.push(stmt.replace("DROP ", "").replace(" IF EXISTS", ""));
        }
    }
    let mut out = format!(
        "lite2pg rollback --run {run}: dropped {} table(s) and {} view(s) in schema {}\n",
        tables.len(),
        views.len(),
        quote_ident(&schema)
    );
    if restored > 0 {
        out.push_str(&format!(
            "  restored {restored} foreign key(s), index(es) and trigger(s) the run held for its load \
             (foreign keys NOT VALID: validate them once the rows are right)\n"
        ));
    }
    for k in kept {
        out.push_str(&format!("  kept {k}: something else uses it\n"));
    }
    if synced > 0 {
        out.push_str(
            "  note: `lite2pg sync` was following this run: its capture triggers stay in the \
             SQLite file; `lite2pg sync` migrates again under them, `lite2pg finish` removes them\n",
        );
    }
    crate::output::write(None, &out)?;
    Ok(0)
}
