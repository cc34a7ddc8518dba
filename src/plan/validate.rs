//! Test-applying a plan's DDL to a real PostgreSQL, so what `plan` prints is known to run.
//!
//! The statements run in one transaction inside a scratch schema and everything is rolled
//! back. A statement PostgreSQL refuses is removed from the plan and reported with the
//! server's message; a refused view or index is left out, never emitted broken.

use super::{Plan, Severity, Statement};
use crate::error::Result;
use crate::pg::Client;
use crate::plan::Finding;

/// Statements PostgreSQL refused: (phase, index, message).
pub type Refusals = Vec<(usize, usize, String)>;

/// Runs `scratch` (the same plan built for a scratch schema) and records refusals.
pub fn test_apply(client: &Client, scratch: &Plan, scratch_schema: &str) -> Result<Refusals> {
    let mut refused = Vec::new();
    client.batch_execute("starting the test transaction", "BEGIN")?;
    let mut scratch = scratch.clone();
    client.batch_execute(
        "creating the scratch schema",
        &format!("CREATE SCHEMA {}", crate::pg::quote_ident(scratch_schema)),
    )?;
    for (phase, stmts) in scratch.ddl.phases_mut().into_iter().enumerate() {
        // CREATE SCHEMA exists only in one of the two plans: count statements without it.
        for (i, s) in stmts
            .iter()
            .filter(|s| !s.sql.starts_with("CREATE SCHEMA"))
            .enumerate()
        {
            client.batch_execute("test-applying the plan", "SAVEPOINT lite2pg_stmt")?;
            match client.batch_execute(&s.object, &s.sql) {
                Ok(()) => client
                    .batch_execute("test-applying the plan", "RELEASE SAVEPOINT lite2pg_stmt")?,
                Err(crate::Error::Postgres { message, .. }) => {
                    client.batch_execute(
                        "test-applying the plan",
                        "ROLLBACK TO SAVEPOINT lite2pg_stmt",
                    )?;
                    refused.push((phase, i, message.replace(scratch_schema, "<schema>")));
                }
                Err(other) => return Err(other),
            }
        }
    }
    client.batch_execute("rolling back the test transaction", "ROLLBACK")?;
    Ok(refused)
}

/// Removes refused statements from `plan` and reports each one.
pub fn apply_refusals(plan: &mut Plan, refused: &Refusals, place: &str) {
    let total: usize = plan.ddl.all().count();
    let mut findings: Vec<Finding> = Vec::new();
    for (phase, stmts) in plan.ddl.phases_mut().into_iter().enumerate() {
        let mut keep: Vec<Statement> = Vec::new();
        let mut i = 0;
        for s in stmts.drain(..) {
            if s.sql.starts_with("CREATE SCHEMA") {
                keep.push(s);
                continue;
            }
            i += 1;
            match refused.iter().find(|(p, j, _)| *p == phase && *j + 1 == i) {
                Some((_, _, msg)) => findings.push(Finding {
                    severity: if s.optional {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    code: "postgres.refused".into(),
                    object: s.object.clone(),
                    message: format!("PostgreSQL refused it, so it is left out: {msg}"),
                    sql: Some(s.sql.clone()),
                }),
                _ => keep.push(s),
            }
        }
        *stmts = keep;
    }
    plan.validation = Some(format!(
        "DDL test-applied to {place} in a transaction that was rolled back: {} of {total} statements ran, {} refused",
        total - findings.len(),
        findings.len()
    ));
    plan.findings.extend(findings);
}
