//! The DDL phases around the copy: tables; keys attached to the unique indexes the build
//! pool made (builds.rs); foreign keys (`NOT VALID`, then validated, orphans reported);
//! views; identity restarts.
//!
//! Each step runs in one transaction with its row in `lite2pg.objects`, so a resumed run
//! skips exactly the steps that are done.

use std::collections::HashSet;

use uuid::Uuid;

use super::builds::Built;
use super::run_report::ForeignKeyReport;
use crate::error::{Error, Result};
use crate::pg::control::run_step;
use crate::pg::{orphans, quote_ident, Client};
use crate::plan::{Constraint, Finding, Severity, Statement, TablePlan};

/// What every phase needs.
pub struct Ctx<'a> {
    /// The coordinating connection (holds the run lock).
    pub client: &'a mut Client,
    /// The run.
    pub run: Uuid,
    /// Steps finished by this run before (on resume).
    pub done: HashSet<(String, String)>,
    /// Findings raised while running.
    pub findings: Vec<Finding>,
}

impl Ctx<'_> {
    fn is_done(&self, phase: &str, object: &str) -> bool {
        self.done.contains(&(phase.to_string(), object.to_string()))
    }

    /// Runs `stmts` in order; a refused optional statement becomes a finding, a refused
    /// required one stops the run.
    pub fn run_all(&mut self, phase: &str, stmts: &[Statement]) -> Result<()> {
        for s in stmts {
            if self.is_done(phase, &s.object) {
                continue;
            }
            match run_step(
                self.client,
                self.run,
                phase,
                &s.object,
                &s.sql,
                s.creates.as_ref(),
            ) {
                Ok(_) => {}
                Err(Error::Postgres { message, .. }) if s.optional => {
                    self.findings
                        .push(refused(&s.object, &s.sql, &message, Severity::Warning))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn refused(object: &str, sql: &str, message: &str, severity: Severity) -> Finding {
    Finding {
        severity,
        code: "migrate.refused".into(),
        object: object.to_string(),
        message: format!("PostgreSQL refused it: {message}"),
        sql: Some(sql.to_string()),
    }
}

/// Reports the builds PostgreSQL refused, then attaches each key's unique index as its
/// constraint (`ADD CONSTRAINT … USING INDEX`: a catalog change, the build was the work).
pub fn attach_keys(ctx: &mut Ctx<'_>, stmts: &[Statement], built: &[Built]) -> Result<()> {
    for (b, outcome) in built {
        if let Err(message) = outcome {
            let sev = if b.optional {
                Severity::Warning
            } else {
                Severity::Error
            };
            ctx.findings.push(refused(&b.object, &b.sql, message, sev));
        }
    }
    // In the order of the plan; on resume, for indexes built by the killed run too.
    for s in stmts {
        let Some(Constraint::Key {
            table,
            name,
            primary,
            ..
        }) = &s.constraint
        else {
            continue;
        };
        let build = format!("index for {}", s.object);
        let failed = built.iter().any(|(b, o)| b.object == build && o.is_err());
        if failed || ctx.is_done("indexes", &s.object) {
            continue;
        }
        let sql = format!(
            "ALTER TABLE {table} ADD CONSTRAINT {} {} USING INDEX {}",
            quote_ident(name),
            if *primary { "PRIMARY KEY" } else { "UNIQUE" },
            quote_ident(name)
        );
        match run_step(ctx.client, ctx.run, "indexes", &s.object, &sql, None) {
            Ok(_) => {}
            Err(Error::Postgres { message, .. }) => {
                ctx.findings
                    .push(refused(&s.object, &sql, &message, Severity::Error))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Adds every foreign key `NOT VALID`, then validates it; orphans are counted and sampled.
pub fn foreign_keys(
    ctx: &mut Ctx<'_>,
    stmts: &[Statement],
    tables: &[(String, &TablePlan)],
) -> Result<Vec<ForeignKeyReport>> {
    let mut reports = Vec::new();
    for s in stmts {
        let Some(Constraint::Foreign {
            table,
            name,
            columns,
            ref_table,
            ref_columns,
        }) = &s.constraint
        else {
            ctx.run_all("foreign_keys", std::slice::from_ref(s))?;
            continue;
        };
        if !ctx.is_done("foreign_keys", &s.object) {
            let sql = format!("{} NOT VALID", s.sql);
            match run_step(ctx.client, ctx.run, "foreign_keys", &s.object, &sql, None) {
                Ok(_) => {}
                Err(Error::Postgres { message, .. }) => {
                    ctx.findings
                        .push(refused(&s.object, &sql, &message, Severity::Error));
                    reports.push(ForeignKeyReport {
                        name: name.clone(),
                        table: table.clone(),
                        status: "failed".into(),
                        orphans: 0,
                        sample_keys: Vec::new(),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let validate = format!(
            "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
            quote_ident(name)
        );
        let mut report = ForeignKeyReport {
            name: name.clone(),
            table: table.clone(),
            status: "valid".into(),
            orphans: 0,
            sample_keys: Vec::new(),
        };
        if !ctx.is_done("validate", &s.object) {
            match run_step(ctx.client, ctx.run, "validate", &s.object, &validate, None) {
                Ok(_) => {}
                Err(Error::Postgres { message, .. }) => {
                    let identity = tables
                        .iter()
                        .find(|(q, _)| q == table)
                        .map(|(_, t)| identity_columns(t))
                        .unwrap_or_else(|| columns.clone());
                    let fk = orphans::ForeignKey {
                        table,
                        columns,
                        ref_table,
                        ref_columns,
                    };
                    let count = orphans::count(ctx.client, &fk, None)?;
                    let samples = orphans::sample(ctx.client, &fk, &identity, 5)?;
                    report.status = "not_valid".into();
                    report.orphans = count;
                    report.sample_keys = samples.clone();
                    ctx.findings.push(Finding {
                        severity: Severity::Error,
                        code: "fk.orphans".into(),
                        object: s.object.clone(),
                        message: format!(
                            "{count} row(s) of {table} reference no row of {ref_table} \
                             (SQLite did not enforce this key); the constraint is kept NOT VALID: \
                             it checks new rows only. Fix the rows, then run `{validate}`. \
                             Sample keys: {}. ({message})",
                            samples
                                .iter()
                                .map(|k| k.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        sql: None,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

fn identity_columns(t: &TablePlan) -> Vec<String> {
    match &t.row_identity {
        crate::plan::RowIdentity::PrimaryKey { columns } => columns.clone(),
        crate::plan::RowIdentity::AddedRowid { column } => vec![column.clone()],
        crate::plan::RowIdentity::None => t.columns.iter().map(|c| c.target.clone()).collect(),
    }
}
