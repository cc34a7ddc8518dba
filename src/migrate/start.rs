//! Starting a run: refuse what would clobber a target, or pick up the unfinished run to
//! resume; drop what `--replace` replaces; record the new run.

use std::collections::HashSet;

use uuid::Uuid;

use super::{MigrateRequest, Mode};
use crate::error::{Error, Result};
use crate::pg::{control, qualified, quote_ident, Client, Target};
use crate::plan::Plan;

/// The run to work on: a new one (`false`) or the one to resume (`true`).
pub fn begin(
    req: &MigrateRequest,
    client: &Client,
    plan: &Plan,
    target: &Target,
    display: &str,
) -> Result<(Uuid, bool)> {
    let schema_name = &plan.options.schema;
    // Which run: a new one, or the unfinished one to resume.
    let unfinished = control::unfinished_run(client, schema_name)?;
    let names: Vec<String> = plan
        .tables
        .iter()
        .map(|t| t.target.clone())
        .chain(plan.views.iter().map(|v| v.target.clone()))
        .collect();
    if req.resume {
        let Some(run) = unfinished else {
            return Err(Error::Usage(format!(
                "nothing to resume: no unfinished lite2pg run into schema {} of {}; run \
                 without --resume",
                quote_ident(schema_name),
                target.display()
            )));
        };
        check_same_shape(client, run.id, plan)?;
        control::reopen_run(client, run.id)?;
        eprintln!(
            "lite2pg: resuming run {} (started {}, stopped in phase {})",
            run.id, run.started_at, run.phase
        );
        Ok((run.id, true))
    } else {
        let clash = existing(client, schema_name, &names)?;
        if req.mode == Mode::DataOnly {
            let have: HashSet<&String> = clash.iter().map(|(n, _)| n).collect();
            let missing: Vec<&String> = plan
                .tables
                .iter()
                .map(|t| &t.target)
                .filter(|n| !have.contains(n))
                .collect();
            if !missing.is_empty() {
                return Err(Error::Usage(format!(
                    "--data-only needs the tables to exist; missing in schema {}: {}",
                    quote_ident(schema_name),
                    missing
                        .iter()
                        .map(|n| quote_ident(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        } else if !clash.is_empty() && !req.replace {
            let hint = match &unfinished {
                Some(run) => format!(
                    "; run {} into this schema did not finish (phase {}): continue it with \
                     --resume, or start over with --replace",
                    run.id, run.phase
                ),
                None => "; pass --replace to drop them first, or choose another --schema".into(),
            };
            return Err(Error::Usage(format!(
                "schema {} of {} already holds {}{hint}",
                quote_ident(schema_name),
                target.display(),
                clash
                    .iter()
                    .map(|(n, _)| quote_ident(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        } else if !clash.is_empty() {
            for (name, kind) in &clash {
                let what = match kind.as_str() {
                    "v" => "VIEW",
                    "m" => "MATERIALIZED VIEW",
                    "f" => "FOREIGN TABLE",
                    _ => "TABLE",
                };
                client.batch_execute(
                    &format!("dropping {} for --replace", quote_ident(name)),
                    &format!(
                        "DROP {what} IF EXISTS {} CASCADE",
                        qualified(schema_name, name)
                    ),
                )?;
            }
            if let Some(run) = &unfinished {
                control::finish_run(
                    client,
                    run.id,
                    "failed",
                    Some("replaced by a new run"),
                    None,
                )?;
            }
        }
        let id = Uuid::new_v4();
        let options = serde_json::json!({
            "options": plan.options,
            "jobs": req.jobs,
            "mode": format!("{:?}", req.mode),
            "tables": req.tables,
            "exclude": req.exclude,
        });
        control::start_run(client, id, display, schema_name, &options)?;
        let stored = serde_json::to_value(plan).map_err(|e| {
            Error::Environment(format!("the plan could not be written as JSON: {e}"))
        })?;
        control::record_plan(client, id, &stored)?;
        Ok((id, false))
    }
}

/// Tables and views already in the target schema under the names the plan uses.
fn existing(client: &Client, schema: &str, names: &[String]) -> Result<Vec<(String, String)>> {
    let rows = client.query(
        "looking for tables of the same names",
        "SELECT c.relname::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
         ORDER BY 1",
        &[&schema, &names],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Whether the schema or extension a prelude statement creates exists already.
pub fn already_there(client: &Client, s: &crate::plan::Statement) -> Result<bool> {
    let (sql, name) = if let Some(rest) = s.sql.strip_prefix("CREATE SCHEMA IF NOT EXISTS ") {
        ("SELECT count(*) FROM pg_namespace WHERE nspname = $1", rest)
    } else if let Some(rest) = s.sql.strip_prefix("CREATE EXTENSION IF NOT EXISTS ") {
        ("SELECT count(*) FROM pg_extension WHERE extname = $1", rest)
    } else {
        return Ok(false);
    };
    let name = name.trim();
    let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => name.to_string(),
    };
    let n: i64 = client
        .query("checking what exists already", sql, &[&name])?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    Ok(n > 0)
}

/// Refuses to resume when the tables would now be created differently.
fn check_same_shape(client: &Client, run: Uuid, plan: &Plan) -> Result<()> {
    let recorded = control::recorded_sql(client, run, "schema")?;
    for s in &plan.ddl.tables {
        if let Some(sql) = recorded.get(&s.object) {
            if *sql != s.sql {
                return Err(Error::Usage(format!(
                    "cannot resume run {run}: {} would now be created differently (the source's \
                     schema or data changed, or other options were given); start over with \
                     --replace",
                    s.object
                )));
            }
        }
    }
    Ok(())
}
