//! Test-applying a plan's DDL to a real PostgreSQL, so what `plan` prints is known to run.
//!
//! The statements run in one transaction inside a scratch schema and everything is rolled
//! back. A statement PostgreSQL refuses is removed from the plan and reported with the
//! server's message; a refused view or index is left out, never emitted broken.
//!
//! A refused `CREATE TABLE` is taken apart before anything is given up: the table without
//! its clauses (defaults, generation expressions, CHECKs), then each clause on its own, so
//! one clause PostgreSQL cannot run is left out alone (plan/clauses.rs) and the table and
//! its rows still arrive. Only a table refused bare is left out, and with it every
//! statement that needs it.

use super::clauses::{Choice, ClauseKind, TableParts};
use super::{ObjectKind, Plan, Severity, Statement};
use crate::error::Result;
use crate::pg::Client;
use crate::plan::Finding;

/// What the test-apply found of one statement.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Refused, with PostgreSQL's message: the statement is left out.
    Refused(String),
    /// A table that runs once some of its clauses are changed or left out: what became of
    /// each clause.
    Degraded(Vec<Choice>),
}

/// Statements PostgreSQL did not run as planned: (phase, index, outcome).
pub type Refusals = Vec<(usize, usize, Outcome)>;

/// Runs `sql` in a savepoint of its own; `keep`: leave its effect in place when it runs.
fn attempt(client: &Client, object: &str, sql: &str, keep: bool) -> Result<Option<String>> {
    client.batch_execute("test-applying the plan", "SAVEPOINT lite2pg_try")?;
    match client.batch_execute(object, sql) {
        Ok(()) => {
            let end = if keep {
                "RELEASE SAVEPOINT lite2pg_try"
            } else {
                "ROLLBACK TO SAVEPOINT lite2pg_try"
            };
            client.batch_execute("test-applying the plan", end)?;
            Ok(None)
        }
        Err(crate::Error::Postgres { message, .. }) => {
            client.batch_execute(
                "test-applying the plan",
                "ROLLBACK TO SAVEPOINT lite2pg_try",
            )?;
            Ok(Some(message))
        }
        Err(other) => Err(other),
    }
}

/// A refused table's way to run: bare first (refused bare, it is refused), then each clause
/// alone, as translated or in an alternative spelling; what runs together is created in the
/// scratch schema for the statements after it.
fn degrade(client: &Client, object: &str, parts: &TableParts) -> Result<Option<Vec<Choice>>> {
    let bare: Vec<Choice> = vec![Choice::Dropped(String::new()); parts.clauses.len()];
    if attempt(client, object, &parts.render(&bare), false)?.is_some() {
        return Ok(None);
    }
    let mut choices = bare.clone();
    for (i, clause) in parts.clauses.iter().enumerate() {
        let mut alone = bare.clone();
        alone[i] = Choice::Kept;
        let Some(why) = attempt(client, object, &parts.render(&alone), false)? else {
            choices[i] = Choice::Kept;
            continue;
        };
        choices[i] = Choice::Dropped(why.clone());
        for (a, alt) in clause.alternatives.iter().enumerate() {
            alone[i] = Choice::Alternative(a, why.clone());
            let probe_fails = match &alt.probe {
                Some(q) => attempt(client, object, q, false)?.is_some(),
                None => false,
            };
            if !probe_fails && attempt(client, object, &parts.render(&alone), false)?.is_none() {
                choices[i] = alone[i].clone();
                break;
            }
        }
    }
    // Clauses that run alone but not together (rare): the table keeps none of them.
    if let Some(why) = attempt(client, object, &parts.render(&choices), true)? {
        let all: Vec<Choice> = vec![Choice::Dropped(why); parts.clauses.len()];
        if attempt(client, object, &parts.render(&all), true)?.is_some() {
            return Ok(None);
        }
        return Ok(Some(all));
    }
    Ok(Some(choices))
}

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
            // A trigger function's statements are planned only when it runs: the checks
            // (its statements with NEW and OLD as typed NULLs) are planned now, with it.
            let sql = if s.checks.is_empty() {
                s.sql.clone()
            } else {
                let explained: Vec<String> =
                    s.checks.iter().map(|c| format!("EXPLAIN {c}")).collect();
                format!("{};\n{}", s.sql, explained.join(";\n"))
            };
            let Some(message) = attempt(client, &s.object, &sql, true)? else {
                continue;
            };
            let degraded = match &s.parts {
                Some(parts) => degrade(client, &s.object, parts)?,
                None => None,
            };
            let message = message.replace(scratch_schema, "<schema>");
            refused.push((
                phase,
                i,
                match degraded {
                    Some(choices) => Outcome::Degraded(
                        choices
                            .into_iter()
                            .map(|c| match c {
                                Choice::Dropped(w) => {
                                    Choice::Dropped(w.replace(scratch_schema, "<schema>"))
                                }
                                Choice::Alternative(a, w) => {
                                    Choice::Alternative(a, w.replace(scratch_schema, "<schema>"))
                                }
                                Choice::Kept => Choice::Kept,
                            })
                            .collect(),
                    ),
                    None => Outcome::Refused(message),
                },
            ));
        }
    }
    client.batch_execute("rolling back the test transaction", "ROLLBACK")?;
    Ok(refused)
}

/// Rewrites a degraded table's statement and plan, one finding per clause changed.
fn apply_choices(plan: &mut Plan, s: &mut Statement, choices: &[Choice], out: &mut Vec<Finding>) {
    let Some(parts) = s.parts.as_deref() else {
        return;
    };
    s.sql = parts.render(choices);
    for (clause, choice) in parts.clauses.iter().zip(choices) {
        let (severity, message) = match choice {
            Choice::Kept => continue,
            Choice::Alternative(_, why) => (
                Severity::Info,
                match clause.kind {
                    ClauseKind::Generated => format!(
                        "PostgreSQL refused it as translated ({why}); it names no column, so \
                         it is the constant SQLite computes for every row"
                    ),
                    _ => format!(
                        "PostgreSQL refused it as translated ({why}); it runs cast to the \
                         column's type"
                    ),
                },
            ),
            Choice::Dropped(why) => (
                Severity::Error,
                match clause.kind {
                    ClauseKind::Default => format!(
                        "PostgreSQL refused it, so the column has no default; the table and \
                         its rows arrive: {why}"
                    ),
                    ClauseKind::Generated => format!(
                        "PostgreSQL refused it, so the column is a plain one holding the \
                         values SQLite computed; the table and its rows arrive: {why}"
                    ),
                    ClauseKind::Check => format!(
                        "PostgreSQL refused it, so it is not enforced; the table and its rows \
                         arrive: {why}"
                    ),
                },
            ),
        };
        out.push(Finding {
            severity,
            code: "postgres.refused_clause".into(),
            object: clause.object.clone(),
            message,
            sql: Some(clause.sqlite.clone()),
        });
        if let (ClauseKind::Generated, Choice::Dropped(_), Some(col)) =
            (clause.kind, choice, &clause.column)
        {
            let column = plan
                .tables
                .iter_mut()
                .filter(|t| t.target == parts.table)
                .flat_map(|t| t.columns.iter_mut())
                .find(|c| &c.target == col);
            if let Some(c) = column {
                c.generated = false;
            }
        }
    }
}

/// Removes refused statements from `plan` and reports each one; a table refused outright
/// takes its table plan and the statements that need it along.
pub fn apply_refusals(plan: &mut Plan, refused: &Refusals, place: &str) {
    let total: usize = plan.ddl.all().count();
    let mut findings: Vec<Finding> = Vec::new();
    let gone = refused_relations(plan, refused);
    let mut left_out = 0;
    let mut phases = std::mem::take(&mut plan.ddl);
    for (phase, stmts) in phases.phases_mut().into_iter().enumerate() {
        let mut keep: Vec<Statement> = Vec::new();
        let mut i = 0;
        for mut s in stmts.drain(..) {
            if s.sql.starts_with("CREATE SCHEMA") {
                keep.push(s);
                continue;
            }
            i += 1;
            match refused.iter().find(|(p, j, _)| *p == phase && *j + 1 == i) {
                Some((_, _, Outcome::Degraded(choices))) => {
                    apply_choices(plan, &mut s, choices, &mut findings);
                    keep.push(s);
                }
                Some((_, _, Outcome::Refused(msg))) => {
                    left_out += 1;
                    let with = gone
                        .iter()
                        .find(|(q, object)| *object != s.object && s.sql.contains(q.as_str()));
                    if let Some((_, object)) = with {
                        findings.push(with_table(&s, object));
                        continue;
                    }
                    // An object not carried, whatever it is: exit 1, for a look.
                    findings.push(Finding {
                        severity: Severity::Error,
                        code: "postgres.refused".into(),
                        object: s.object.clone(),
                        message: match &s.source {
                            // The SQLite text is the finding's; the translation goes here.
                            Some(_) => format!(
                                "PostgreSQL refused it, so it is left out: {msg} (translated \
                                 as: {})",
                                s.sql
                            ),
                            None => format!("PostgreSQL refused it, so it is left out: {msg}"),
                        },
                        sql: Some(s.source.clone().unwrap_or_else(|| s.sql.clone())),
                    });
                }
                None => keep.push(s),
            }
        }
        *stmts = keep;
    }
    plan.ddl = phases;
    leave_out_tables(plan, &gone, &mut findings);
    // A trigger left out is no longer translated.
    let created: Vec<String> = plan.ddl.triggers.iter().map(|s| s.object.clone()).collect();
    for t in plan.triggers.iter_mut().filter(|t| t.translated) {
        if !created.contains(&t.object()) {
            t.translated = false;
            let object = t.object();
            plan.findings
                .retain(|f| !(f.code == "trigger.translated" && f.object == object));
        }
    }
    plan.validation = Some(format!(
        "DDL test-applied to {place} in a transaction that was rolled back: {} of {total} statements ran, {left_out} refused",
        total - left_out,
    ));
    plan.findings.extend(findings);
}

/// The tables (refused bare) and views PostgreSQL refused: (qualified name, the statement's
/// object), for the statements that name them.
fn refused_relations(plan: &mut Plan, refused: &Refusals) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (phase, stmts) in plan.ddl.phases_mut().into_iter().enumerate() {
        let counted = stmts.iter().filter(|s| !s.sql.starts_with("CREATE SCHEMA"));
        for (i, s) in counted.enumerate() {
            let Some(c) = &s.creates else {
                continue;
            };
            let gone = refused
                .iter()
                .any(|(p, j, o)| *p == phase && *j == i && matches!(o, Outcome::Refused(_)));
            if gone && matches!(c.kind, ObjectKind::Table | ObjectKind::View) {
                out.push((crate::pg::qualified(&c.schema, &c.name), s.object.clone()));
            }
        }
    }
    out
}

/// The finding for a statement left out because the table or view it needs was.
fn with_table(s: &Statement, table: &str) -> Finding {
    Finding {
        severity: Severity::Error,
        code: "postgres.refused_with_table".into(),
        object: s.object.clone(),
        message: format!("left out with {table}, which PostgreSQL refused (see its finding)"),
        sql: Some(s.sql.clone()),
    }
}

/// Takes tables PostgreSQL refused out of the plan, with every later statement that
/// names them (keys, indexes, foreign keys either way, identity restarts, views), so no
/// later phase meets a missing table: each is reported as left out with its table.
fn leave_out_tables(plan: &mut Plan, gone: &[(String, String)], out: &mut Vec<Finding>) {
    if gone.is_empty() {
        return;
    }
    let schema = plan.options.schema.clone();
    let names: Vec<String> = gone.iter().map(|(q, _)| q.clone()).collect();
    plan.tables
        .retain(|t| !names.contains(&crate::pg::qualified(&schema, &t.target)));
    for stmts in plan.ddl.phases_mut() {
        stmts.retain(|s| {
            let Some(k) = names.iter().position(|q| s.sql.contains(q.as_str())) else {
                return true;
            };
            if s.parts.is_some() {
                return true;
            }
            out.push(with_table(s, &gone[k].1));
            false
        });
    }
}
