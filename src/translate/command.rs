//! `lite2pg plan`: print the plan (text, JSON or runnable SQL) and exit with whether it
//! holds findings that need a decision.

use std::path::PathBuf;

use super::check::{make_plan, Check};
use crate::error::Result;
use crate::plan::{self, Plan, PlanOptions, Severity};

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Readable summary.
    Text,
    /// Stable JSON (docs/plan-format.md).
    Json,
    /// Runnable DDL.
    Sql,
}

/// A validated `plan` request.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// Output format.
    pub format: Format,
    /// Translation options.
    pub options: PlanOptions,
    /// Test-apply target.
    pub check: Check,
    /// Write here instead of standard output.
    pub output: Option<PathBuf>,
}

/// Renders a plan in `format`.
pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => plan::render_text(plan),
        Format::Json => plan::render_json(plan),
        Format::Sql => plan::render_sql(plan),
    }
}

/// `lite2pg plan`: exit 0 when nothing needs a decision, 1 when findings do.
pub fn plan(req: &PlanRequest) -> Result<i32> {
    let plan = make_plan(&req.source, &req.options, &req.check)?;
    crate::output::write(req.output.as_deref(), &render(&plan, req.format))?;
    Ok(match plan.worst() {
        Some(Severity::Warning) | Some(Severity::Error) => 1,
        _ => 0,
    })
}
