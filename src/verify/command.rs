//! The `lite2pg verify` command: find the plan the target was migrated with, compare,
//! report, exit 0 (match), 1 (differences) or 2/3 (input, connection).

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use super::report::{self, TableStatus, TableVerify, VerifyReport};
use super::{compare_tables, Options};
use crate::error::Result;
use crate::pg::{connect_target, Client, TargetChoice};
use crate::plan::{Plan, PlanOptions};
use crate::sqlite::open::open_consistent;
use crate::translate::load_from;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// For a terminal.
    Text,
    /// The JSON report on standard output.
    Json,
}

/// A validated `lite2pg verify` request.
pub struct VerifyRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// The target.
    pub target: TargetChoice,
    /// Target schema (default: `public`).
    pub schema: String,
    /// Only tables matching these globs (SQLite names); empty: what the migration took.
    pub tables: Vec<String>,
    /// Leave out tables matching these globs.
    pub exclude: Vec<String>,
    /// Report files; the extension picks the form.
    pub reports: Vec<PathBuf>,
    /// What standard output gets.
    pub output: Output,
    /// Comparison options.
    pub options: Options,
    /// Give up (exit 3) when the server answers no ping for this long.
    pub stall_timeout: std::time::Duration,
}

/// The newest run recorded into a schema, as verify needs it.
struct RecordedRun {
    /// Its id.
    id: String,
    /// Its plan options.
    options: PlanOptions,
    /// Its `--tables` globs.
    tables: Vec<String>,
    /// Its `--exclude` globs.
    exclude: Vec<String>,
    /// The plan it applied (runs before control-schema V2 have none), or why it cannot be
    /// read.
    plan: Option<std::result::Result<Plan, String>>,
}

/// The newest run into `schema` recorded in the control schema: its plan options and table
/// filters, so the comparison maps names exactly as that migration did.
fn recorded_run(client: &Client, schema: &str) -> Result<Option<RecordedRun>> {
    let exists = client.query(
        "looking for lite2pg's control schema",
        "SELECT to_regclass('lite2pg.runs') IS NOT NULL",
        &[],
    )?;
    if !exists.first().map(|r| r.get::<_, bool>(0)).unwrap_or(false) {
        return Ok(None);
    }
    let rows = client.query(
        "reading the newest run's options",
        "SELECT options, plan, id::text FROM lite2pg.runs WHERE target_schema = $1 \
         ORDER BY (status = 'done') DESC, started_at DESC LIMIT 1",
        &[&schema],
    )?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let json: serde_json::Value = row.get(0);
    let options: Option<PlanOptions> = serde_json::from_value(json["options"].clone()).ok();
    let list = |k: &str| -> Vec<String> {
        json[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let plan: Option<serde_json::Value> = row.get(1);
    let id: String = row.get(2);
    let plan = plan.map(|p| {
        serde_json::from_value::<Plan>(p)
            .map_err(|e| format!("the plan stored by run {id} could not be read ({e})"))
    });
    Ok(options.map(|options| RecordedRun {
        options,
        tables: list("tables"),
        exclude: list("exclude"),
        plan,
        id,
    }))
}

/// Runs `lite2pg verify` and returns its exit code.
pub fn verify(req: &VerifyRequest) -> Result<i32> {
    let report = verify_with_report(req)?;
    Ok(if report.ok { 0 } else { 1 })
}

/// Runs `lite2pg verify` and returns its report (also printed and written as asked).
pub fn verify_with_report(req: &VerifyRequest) -> Result<VerifyReport> {
    let target = req.target.require("verify")?;
    let started_at = crate::sqlite::temporal::rfc3339(SystemTime::now());
    let t0 = Instant::now();
    let src = open_consistent(&req.source)?;
    let client = connect_target(&target)?;
    let _watchdog = crate::pg::Watchdog::start(
        &target,
        req.stall_timeout,
        "nothing was changed: run verify again once the server answers",
    );
    let mut notes: Vec<String> = src.snapshot_note.iter().cloned().collect();
    let (options, mut include, mut exclude, stored) = match recorded_run(&client, &req.schema)? {
        Some(run) => (
            PlanOptions {
                schema: req.schema.clone(),
                ..run.options
            },
            run.tables,
            run.exclude,
            run.plan.map(|p| p.map(|plan| (plan, run.id))),
        ),
        None => {
            notes.push(format!(
                "no lite2pg run into schema {} is recorded in the target: names and types are \
                 planned with the default options",
                req.schema
            ));
            (
                PlanOptions {
                    schema: req.schema.clone(),
                    ..PlanOptions::default()
                },
                Vec::new(),
                Vec::new(),
                None,
            )
        }
    };
    if !req.tables.is_empty() {
        include = req.tables.clone();
    }
    exclude.extend(req.exclude.iter().cloned());
    let display = req.source.display().to_string();
    let (plan, all_tables) = match stored {
        // The plan the migration applied: the same names, keys and intended schema, and no
        // second profiling pass over the source.
        Some(Ok((mut plan, run))) => {
            notes.push(format!("compared with the plan applied by run {run}"));
            let mut schema = crate::sqlite::introspect::introspect(&src)?;
            let all: Vec<String> = schema.tables.iter().map(|t| t.name.clone()).collect();
            crate::model::select_tables(&mut schema, &include, &exclude)?;
            plan.tables
                .retain(|t| schema.tables.iter().any(|s| s.name == t.source));
            plan.options.schema = req.schema.clone();
            (plan, all)
        }
        other => {
            if let Some(Err(why)) = other {
                notes.push(format!("{why}: the source was planned again"));
            }
            let (mut schema, profiles) = load_from(&src)?;
            let all: Vec<String> = schema.tables.iter().map(|t| t.name.clone()).collect();
            crate::model::select_tables(&mut schema, &include, &exclude)?;
            let plan = crate::translate::build_plan(&display, &schema, &profiles, &options);
            (plan, all)
        }
    };
    let (mut tables, schema_findings) =
        compare_tables(&src, &plan, &target, &client, &req.options)?;
    // A file read in place without locking must have been one moment throughout.
    src.check_unchanged()?;
    for name in all_tables {
        if !plan.tables.iter().any(|t| t.source == name) {
            let mut tv = TableVerify::new(&name, "");
            tv.status = TableStatus::Skipped;
            // A table PostgreSQL refused when the run planned it says so, with the reason.
            let object = format!("table {}", crate::pg::quote_ident(&name));
            let refused = plan
                .findings
                .iter()
                .find(|f| f.code == "postgres.refused" && f.object.eq_ignore_ascii_case(&object));
            tv.note = Some(match refused {
                Some(f) => format!("not migrated: {}", f.message),
                None => "left out by --tables/--exclude (or by the migration's)".into(),
            });
            tables.push(tv);
        }
    }
    let rows_compared = tables
        .iter()
        .map(|t| t.source_rows.unwrap_or(0) + t.target_rows.unwrap_or(0))
        .sum();
    let report = VerifyReport {
        format_version: 1,
        ok: VerifyReport::compute_ok(&tables, &schema_findings),
        source: display,
        target: target.display().to_string(),
        schema: req.schema.clone(),
        started_at,
        duration_s: t0.elapsed().as_secs_f64(),
        sample: req.options.sample,
        rows_compared,
        tables,
        schema_findings,
        notes,
    };
    match req.output {
        Output::Text => crate::output::write(None, &report::render_text(&report))?,
        Output::Json => crate::output::write(
            None,
            &(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"),
        )?,
    }
    for path in &req.reports {
        report::write(&report, path)?;
    }
    Ok(report)
}
