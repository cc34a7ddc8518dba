//! The run report of `migrate`: one model, rendered for the terminal, as JSON (`.json`) and
//! as Markdown (`.md`). docs/report-format.md documents the JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::plan::{Finding, Severity};

/// How long one phase took.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseTiming {
    /// Phase name.
    pub name: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What happened to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name.
    pub target: String,
    /// Rows read from SQLite (over every run of a resumed migration).
    pub rows_read: i64,
    /// Rows written to PostgreSQL.
    pub rows_written: i64,
    /// Rows sent to the reject file.
    pub rows_rejected: i64,
    /// Bytes of encoded rows sent.
    pub bytes: i64,
    /// Seconds of COPY transactions (summed over parallel streams).
    pub seconds: f64,
    /// Rows written per second of COPY.
    pub rows_per_s: f64,
    /// Rows in SQLite at verification.
    pub source_rows: Option<i64>,
    /// Rows in PostgreSQL at verification.
    pub target_rows: Option<i64>,
    /// `match`, `match except the N rejected row(s)`, `mismatch: N row(s) differ`, or
    /// `not_verified`.
    pub verification: String,
}

/// What happened to one foreign key.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignKeyReport {
    /// Constraint name.
    pub name: String,
    /// Referencing table.
    pub table: String,
    /// `valid`, `not_valid` (orphans found; constraint kept NOT VALID) or `failed`.
    pub status: String,
    /// Rows whose key has no parent.
    pub orphans: i64,
    /// Keys of a few orphan rows.
    pub sample_keys: Vec<Json>,
}

/// The whole report of one `migrate`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id in the control schema.
    pub run_id: String,
    /// The SQLite file.
    pub source: String,
    /// The target, password masked.
    pub target: String,
    /// Target schema.
    pub schema: String,
    /// A throwaway server was used and removed.
    pub rehearsal: bool,
    /// This run continued a killed one.
    pub resumed: bool,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Wall-clock seconds.
    pub duration_s: f64,
    /// Nothing rejected, no count differs, nothing left invalid or refused.
    pub ok: bool,
    /// Row counts were compared (not `--no-verify`, not `--schema-only`).
    pub verified: bool,
    /// The process exit code.
    pub exit_code: i32,
    /// Phase timings in order.
    pub phases: Vec<PhaseTiming>,
    /// Per-table outcome.
    pub tables: Vec<TableReport>,
    /// Per-foreign-key outcome.
    pub foreign_keys: Vec<ForeignKeyReport>,
    /// Rows rejected in all.
    pub rows_rejected: i64,
    /// Where the rejected rows are listed.
    pub reject_file: Option<String>,
    /// Plan and run findings.
    pub findings: Vec<Finding>,
    /// Schema differences from the plan found by the verification.
    pub schema_findings: Vec<crate::verify::report::SchemaFinding>,
    /// The verification of each table that did not match, with its differing rows.
    pub mismatches: Vec<crate::verify::TableVerify>,
    /// Things worth knowing (snapshot copies, skipped phases).
    pub notes: Vec<String>,
}

fn verdict(r: &RunReport) -> &'static str {
    match (r.ok, r.verified, r.rehearsal) {
        (true, true, true) => "REHEARSAL PASSED",
        (true, false, true) => "REHEARSAL PASSED (NOT VERIFIED)",
        (true, true, false) => "MIGRATED AND VERIFIED",
        (true, false, false) => "MIGRATED (NOT VERIFIED)",
        (false, _, _) => "FINISHED WITH FINDINGS",
    }
}

/// The report for a terminal.
pub fn render_text(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "lite2pg migrate: {}", verdict(r));
    let _ = writeln!(s, "  source  {}", r.source);
    let _ = writeln!(s, "  target  {} (schema {})", r.target, r.schema);
    let _ = writeln!(
        s,
        "  run     {}{}",
        r.run_id,
        if r.resumed { " (resumed)" } else { "" }
    );
    let _ = writeln!(s, "  time    {:.2} s", r.duration_s);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<28} {:>10} {:>10} {:>8} {:>10} {:>10}  verified",
        "table", "read", "written", "rejected", "MB", "rows/s"
    );
    for t in &r.tables {
        let _ = writeln!(
            s,
            "  {:<28} {:>10} {:>10} {:>8} {:>10.1} {:>10.0}  {}",
            t.target,
            t.rows_read,
            t.rows_written,
            t.rows_rejected,
            t.bytes as f64 / 1e6,
            t.rows_per_s,
            match (&t.source_rows, &t.target_rows) {
                (Some(a), Some(b)) =>
                    format!("{} ({a} in SQLite, {b} in PostgreSQL)", t.verification),
                _ => t.verification.clone(),
            }
        );
    }
    let _ = writeln!(s);
    let phases: Vec<String> = r
        .phases
        .iter()
        .map(|p| format!("{} {:.2}s", p.name, p.seconds))
        .collect();
    let _ = writeln!(s, "  phases: {}", phases.join(", "));
    for fk in r.foreign_keys.iter().filter(|f| f.status != "valid") {
        let _ = writeln!(
            s,
            "  foreign key {} on {}: {} ({} orphan rows, e.g. {})",
            fk.name,
            fk.table,
            fk.status,
            fk.orphans,
            fk.sample_keys
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Tables whose only differences are the rejected rows are covered by the reject file.
    let differing = r.mismatches.iter().filter(|t| {
        r.tables
            .iter()
            .any(|rt| rt.target == t.target_name && rt.verification.starts_with("mismatch"))
    });
    for t in differing {
        for m in t.mismatches.iter().take(5) {
            let what = match m.kind {
                crate::verify::MismatchKind::MissingInTarget => "missing in PostgreSQL".to_string(),
                crate::verify::MismatchKind::ExtraInTarget => "extra in PostgreSQL".to_string(),
                crate::verify::MismatchKind::Different => format!(
                    "differs in {}",
                    m.columns
                        .iter()
                        .map(|c| c.column.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let _ = writeln!(s, "  {} {}: {what}", t.target_name, m.key);
        }
    }
    for f in &r.schema_findings {
        let _ = writeln!(
            s,
            "  schema: {} {}: planned {}, found {}",
            f.table, f.object, f.expected, f.found
        );
    }
    if r.rows_rejected > 0 {
        let _ = writeln!(
            s,
            "  {} row(s) rejected, listed with reasons in {}",
            r.rows_rejected,
            r.reject_file.as_deref().unwrap_or("the control schema")
        );
    }
    let serious: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    if !serious.is_empty() {
        let _ = writeln!(s, "  findings needing a look ({}):", serious.len());
        for f in serious.iter().take(30) {
            let _ = writeln!(s, "    [{}] {}: {}", f.code, f.object, f.message);
        }
        if serious.len() > 30 {
            let _ = writeln!(s, "    … {} more in the JSON report", serious.len() - 30);
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s
}

/// The report as Markdown, for a pull request or a ticket.
pub fn render_markdown(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# lite2pg migrate: {}\n", verdict(r));
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| source | `{}` |", r.source);
    let _ = writeln!(s, "| target | `{}` schema `{}` |", r.target, r.schema);
    let _ = writeln!(
        s,
        "| run | `{}`{} |",
        r.run_id,
        if r.resumed { " (resumed)" } else { "" }
    );
    let _ = writeln!(s, "| started | {} |", r.started_at);
    let _ = writeln!(s, "| duration | {:.2} s |", r.duration_s);
    let _ = writeln!(s, "| rows rejected | {} |", r.rows_rejected);
    let _ = writeln!(s, "| exit code | {} |\n", r.exit_code);
    let _ = writeln!(s, "## Tables\n");
    let _ = writeln!(
        s,
        "| table | read | written | rejected | MB | seconds | rows/s | verification |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|");
    for t in &r.tables {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.2} | {:.0} | {} |",
            t.target,
            t.rows_read,
            t.rows_written,
            t.rows_rejected,
            t.bytes as f64 / 1e6,
            t.seconds,
            t.rows_per_s,
            t.verification
        );
    }
    let _ = writeln!(s, "\n## Phases\n");
    for p in &r.phases {
        let _ = writeln!(s, "- {}: {:.2} s", p.name, p.seconds);
    }
    if !r.foreign_keys.is_empty() {
        let _ = writeln!(s, "\n## Foreign keys\n");
        let _ = writeln!(
            s,
            "| constraint | table | status | orphans | sample keys |\n|---|---|---|---:|---|"
        );
        for f in &r.foreign_keys {
            let keys: Vec<String> = f.sample_keys.iter().map(|k| format!("`{k}`")).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                f.name,
                f.table,
                f.status,
                f.orphans,
                keys.join(" ")
            );
        }
    }
    if !r.findings.is_empty() {
        let _ = writeln!(s, "\n## Findings\n");
        for f in &r.findings {
            let _ = writeln!(
                s,
                "- **{:?}** `{}` {}: {}",
                f.severity, f.code, f.object, f.message
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "\n> {n}");
    }
    s
}

/// Writes the report to `path`; the extension picks the form.
pub fn write(r: &RunReport, path: &Path) -> Result<()> {
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::to_string_pretty(r).unwrap_or_default() + "\n",
        Some("md") => render_markdown(r),
        _ => {
            return Err(Error::Usage(format!(
                "{}: a report file must end in .json or .md",
                path.display()
            )))
        }
    };
    std::fs::write(path, text)
        .map_err(|e| Error::io(format!("writing the report {}", path.display()), e))
}

/// The run a report is about.
pub(crate) struct Run<'a> {
    /// Its id.
    pub id: uuid::Uuid,
    /// The SQLite file.
    pub source: &'a Path,
    /// The target, password masked.
    pub target: &'a crate::pg::Target,
    /// The plan it applied.
    pub plan: &'a crate::plan::Plan,
    /// Into a throwaway server.
    pub rehearsal: bool,
    /// Continued a killed run.
    pub resumed: bool,
}

/// Builds the run report from what the phases produced: each table's counts and verdict,
/// the findings, the schema differences not already reported, and whether the run is ok.
/// Timing fields are filled by the caller.
pub(crate) fn assemble(run: Run<'_>, ran: super::Ran) -> RunReport {
    let plan = run.plan;
    let rows_rejected: i64 = ran.totals.values().map(|t| t.rejected).sum();
    let tables: Vec<TableReport> = plan
        .tables
        .iter()
        .map(|tp| table_report(tp, &ran))
        .collect();
    let mut findings = plan.findings.clone();
    findings.extend(ran.findings);
    // A foreign key left NOT VALID and an object PostgreSQL refused are reported already,
    // with their reasons: the schema check would only say it again.
    let schema_findings: Vec<crate::verify::report::SchemaFinding> = ran
        .verification
        .as_ref()
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|f| {
            let not_valid = f.found.starts_with("NOT VALID")
                && ran
                    .fk_reports
                    .iter()
                    .any(|fk| f.object.contains(&format!("\"{}\"", fk.name)));
            let refused = findings
                .iter()
                .any(|r| r.code == "migrate.refused" && r.object.ends_with(&f.object));
            !not_valid && !refused
        })
        .collect();
    let mismatches: Vec<crate::verify::TableVerify> = ran
        .verification
        .as_ref()
        .map(|(v, _)| {
            v.iter()
                .filter(|t| t.status != crate::verify::TableStatus::Match)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let ok = rows_rejected == 0
        && tables
            .iter()
            .all(|t| !t.verification.starts_with("mismatch"))
        && schema_findings.is_empty()
        && ran.fk_reports.iter().all(|f| f.status == "valid")
        && !findings.iter().any(|f| f.severity == Severity::Error);
    RunReport {
        run_id: run.id.to_string(),
        source: run.source.display().to_string(),
        target: run.target.display().to_string(),
        schema: plan.options.schema.clone(),
        rehearsal: run.rehearsal,
        resumed: run.resumed,
        started_at: String::new(),
        duration_s: 0.0,
        ok,
        verified: ran.verification.is_some(),
        exit_code: if ok { 0 } else { 1 },
        phases: Vec::new(),
        tables,
        foreign_keys: ran.fk_reports,
        rows_rejected,
        reject_file: ran.reject_file,
        findings,
        schema_findings,
        mismatches,
        notes: ran.notes,
    }
}

/// One table's line: what was copied, and the verification's verdict (rejected rows are
/// missing by design: they are in the reject file).
fn table_report(tp: &crate::plan::TablePlan, ran: &super::Ran) -> TableReport {
    let t = ran.totals.get(&tp.target).cloned().unwrap_or_default();
    let checked = ran
        .verification
        .as_ref()
        .and_then(|(v, _)| v.iter().find(|v| v.target_name == tp.target));
    let verdict = match checked {
        None => "not_verified".to_string(),
        Some(v) if v.status == crate::verify::TableStatus::Match => "match".into(),
        Some(v)
            if v.mismatch_count == t.rejected as u64
                && v.mismatches
                    .iter()
                    .all(|m| m.kind == crate::verify::MismatchKind::MissingInTarget) =>
        {
            format!("match except the {} rejected row(s)", t.rejected)
        }
        Some(v) => format!("mismatch: {} row(s) differ", v.mismatch_count),
    };
    TableReport {
        source: tp.source.clone(),
        target: tp.target.clone(),
        rows_read: t.read,
        rows_written: t.written,
        rows_rejected: t.rejected,
        bytes: t.bytes,
        seconds: t.seconds,
        rows_per_s: if t.seconds > 0.0 {
            t.written as f64 / t.seconds
        } else {
            0.0
        },
        source_rows: checked.and_then(|v| v.source_rows).map(|n| n as i64),
        target_rows: checked.and_then(|v| v.target_rows).map(|n| n as i64),
        verification: verdict,
    }
}
