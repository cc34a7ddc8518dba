//! The validation report: its data (the JSON of docs/report-format.md) and its renderings
//! for a terminal, Markdown and one self-contained HTML page.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The outcome for one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableStatus {
    /// Every compared row is equal.
    Match,
    /// Rows or columns differ (or the table could not be compared as planned).
    Mismatch,
    /// The table is not in PostgreSQL.
    MissingInTarget,
    /// Left out by the user's `--tables`/`--exclude`.
    Skipped,
}

impl TableStatus {
    fn label(self) -> &'static str {
        match self {
            TableStatus::Match => "match",
            TableStatus::Mismatch => "mismatch",
            TableStatus::MissingInTarget => "missing in target",
            TableStatus::Skipped => "skipped",
        }
    }
}

/// What is wrong with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// In SQLite, not in PostgreSQL.
    MissingInTarget,
    /// In PostgreSQL, not in SQLite.
    ExtraInTarget,
    /// In both, with different values.
    Different,
}

/// One column that differs in a row.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDiff {
    /// PostgreSQL column name.
    pub column: String,
    /// The SQLite value.
    pub source: Value,
    /// The PostgreSQL value.
    pub target: Value,
}

/// One differing row.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// The key (column → value), or the rowid of a table without a key.
    pub key: Value,
    /// What is wrong.
    pub kind: MismatchKind,
    /// For `different`: the columns that differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnDiff>,
    /// For a missing or extra row: its values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<Value>,
}

/// The comparison of one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableVerify {
    /// SQLite name.
    pub name: String,
    /// PostgreSQL name.
    pub target_name: String,
    /// The verdict.
    pub status: TableStatus,
    /// Rows in SQLite (compared rows when sampling).
    pub source_rows: Option<u64>,
    /// Rows in PostgreSQL (compared rows when sampling).
    pub target_rows: Option<u64>,
    /// Key-hash ranges whose digests were compared.
    pub ranges_compared: u64,
    /// Ranges whose digests differed and were compared row by row.
    pub ranges_differing: u64,
    /// Differing rows, all counted.
    pub mismatch_count: u64,
    /// The first differing rows.
    pub mismatches: Vec<Mismatch>,
    /// More rows differ than are listed.
    pub mismatches_truncated: bool,
    /// Differing rows with a change waiting in the capture log (re-checked, not counted).
    pub pending_rows: u64,
    /// Seconds spent on this table's row-level comparison.
    pub seconds: f64,
    /// The SQLite side was hashed as the copy read it, not read again (`migrate`).
    pub source_hashed_in_copy: bool,
    /// Why the table was not compared as planned, or anything else to know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl TableVerify {
    /// The name to show: PostgreSQL's, or SQLite's for a table left out (it has none).
    pub fn shown_name(&self) -> &str {
        if self.target_name.is_empty() {
            &self.name
        } else {
            &self.target_name
        }
    }

    /// A table not compared yet.
    pub fn new(name: &str, target: &str) -> TableVerify {
        TableVerify {
            name: name.to_string(),
            target_name: target.to_string(),
            status: TableStatus::Skipped,
            source_rows: None,
            target_rows: None,
            ranges_compared: 0,
            ranges_differing: 0,
            mismatch_count: 0,
            mismatches: Vec::new(),
            mismatches_truncated: false,
            pending_rows: 0,
            seconds: 0.0,
            source_hashed_in_copy: false,
            note: None,
        }
    }
}

/// A difference between the schema PostgreSQL has and the one the plan intended.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaFinding {
    /// PostgreSQL table.
    pub table: String,
    /// The column, constraint or index.
    pub object: String,
    /// What the plan intended.
    pub expected: String,
    /// What PostgreSQL has.
    pub found: String,
}

/// The whole validation.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Report format version.
    pub format_version: u32,
    /// Everything matches.
    pub ok: bool,
    /// The SQLite file.
    pub source: String,
    /// The target, password masked.
    pub target: String,
    /// The target schema.
    pub schema: String,
    /// When the validation started (RFC 3339).
    pub started_at: String,
    /// Wall seconds.
    pub duration_s: f64,
    /// Fraction of rows compared.
    pub sample: f64,
    /// Rows compared, both sides together.
    pub rows_compared: u64,
    /// Tables.
    pub tables: Vec<TableVerify>,
    /// Schema differences from the plan.
    pub schema_findings: Vec<SchemaFinding>,
    /// Things worth knowing.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether everything compared equal and the schema is as planned.
    pub fn compute_ok(tables: &[TableVerify], schema: &[SchemaFinding]) -> bool {
        schema.is_empty()
            && tables
                .iter()
                .all(|t| matches!(t.status, TableStatus::Match | TableStatus::Skipped))
    }

    fn mismatching_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.mismatch_count).sum()
    }
}

fn verdict(r: &VerifyReport) -> &'static str {
    if r.ok {
        "VERIFIED: every compared row matches"
    } else {
        "DIFFERENCES FOUND"
    }
}

fn count(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// The report for a terminal.
pub fn render_text(r: &VerifyReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "lite2pg verify: {}", verdict(r));
    let _ = writeln!(s, "  source  {}", r.source);
    let _ = writeln!(s, "  target  {} (schema {})", r.target, r.schema);
    let _ = writeln!(
        s,
        "  time    {:.2} s, {} rows compared{}",
        r.duration_s,
        r.rows_compared,
        if r.sample < 1.0 {
            format!(" (sample {:.1} %)", r.sample * 100.0)
        } else {
            String::new()
        }
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<28} {:>10} {:>10} {:>8} {:>10}  status",
        "table", "SQLite", "PostgreSQL", "ranges", "differing"
    );
    for t in &r.tables {
        let _ = writeln!(
            s,
            "  {:<28} {:>10} {:>10} {:>8} {:>10}  {}",
            t.shown_name(),
            count(t.source_rows),
            count(t.target_rows),
            t.ranges_compared,
            t.mismatch_count,
            t.status.label()
        );
    }
    for t in r.tables.iter().filter(|t| t.status != TableStatus::Match) {
        if let Some(n) = &t.note {
            let _ = writeln!(s, "\n  {}: {n}", t.shown_name());
        }
        if t.mismatches.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n  {} ({} differing rows):",
            t.target_name, t.mismatch_count
        );
        for m in t.mismatches.iter().take(20) {
            match m.kind {
                MismatchKind::Different => {
                    for c in &m.columns {
                        let _ = writeln!(
                            s,
                            "    {} {}: SQLite {} | PostgreSQL {}",
                            m.key,
                            c.column,
                            short(&c.source),
                            short(&c.target)
                        );
                    }
                }
                MismatchKind::MissingInTarget => {
                    let _ = writeln!(s, "    {} missing in PostgreSQL", m.key);
                }
                MismatchKind::ExtraInTarget => {
                    let _ = writeln!(s, "    {} extra in PostgreSQL (not in SQLite)", m.key);
                }
            }
        }
        if t.mismatch_count > 20 {
            let _ = writeln!(s, "    … {} more in the JSON report", t.mismatch_count - 20);
        }
    }
    if !r.schema_findings.is_empty() {
        let _ = writeln!(
            s,
            "\n  schema differences from the plan ({}):",
            r.schema_findings.len()
        );
        for f in &r.schema_findings {
            let _ = writeln!(
                s,
                "    {} {}: planned {}, found {}",
                f.table, f.object, f.expected, f.found
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s
}

fn md_cell(v: &str) -> String {
    v.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown.
pub fn render_markdown(r: &VerifyReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# lite2pg verify: {}\n", verdict(r));
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| source | `{}` |", md_cell(&r.source));
    let _ = writeln!(
        s,
        "| target | `{}` (schema `{}`) |",
        md_cell(&r.target),
        md_cell(&r.schema)
    );
    let _ = writeln!(s, "| started | {} |", r.started_at);
    let _ = writeln!(s, "| duration | {:.2} s |", r.duration_s);
    let _ = writeln!(s, "| rows compared | {} |", r.rows_compared);
    let _ = writeln!(s, "| differing rows | {} |\n", r.mismatching_rows());
    let _ = writeln!(
        s,
        "| table | SQLite rows | PostgreSQL rows | ranges | differing rows | status |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
    for t in &r.tables {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} |",
            md_cell(t.shown_name()),
            count(t.source_rows),
            count(t.target_rows),
            t.ranges_compared,
            t.mismatch_count,
            if t.status == TableStatus::Match {
                "✅ match".to_string()
            } else {
                format!("❌ {}", t.status.label())
            }
        );
    }
    for t in r
        .tables
        .iter()
        .filter(|t| !t.mismatches.is_empty() || t.note.is_some())
    {
        let _ = writeln!(s, "\n## `{}`\n", md_cell(&t.target_name));
        if let Some(n) = &t.note {
            let _ = writeln!(s, "{}\n", md_cell(n));
        }
        if t.mismatches.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "| key | kind | column | SQLite | PostgreSQL |\n|---|---|---|---|---|"
        );
        for m in &t.mismatches {
            let kind = serde_json::to_value(m.kind)
                .map(|v| short(&v))
                .unwrap_or_default();
            if m.columns.is_empty() {
                let _ = writeln!(s, "| `{}` | {} | | | |", md_cell(&m.key.to_string()), kind);
            }
            for c in &m.columns {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | `{}` | `{}` | `{}` |",
                    md_cell(&m.key.to_string()),
                    kind,
                    md_cell(&c.column),
                    md_cell(&short(&c.source)),
                    md_cell(&short(&c.target))
                );
            }
        }
        if t.mismatches_truncated {
            let _ = writeln!(
                s,
                "\n{} differing rows in all; the first {} are listed.",
                t.mismatch_count,
                t.mismatches.len()
            );
        }
    }
    if !r.schema_findings.is_empty() {
        let _ = writeln!(s, "\n## Schema differences from the plan\n\n| table | object | planned | found |\n|---|---|---|---|");
        for f in &r.schema_findings {
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} | {} |",
                md_cell(&f.table),
                md_cell(&f.object),
                md_cell(&f.expected),
                md_cell(&f.found)
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "\n> {}", md_cell(n));
    }
    s
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2430}\
h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin-top:2rem}\
.verdict{padding:1rem 1.25rem;border-radius:8px;font-size:1.25rem;font-weight:600}\
.ok{background:#e6f4ea;color:#1e6b34;border:1px solid #9fd3ad}.bad{background:#fdecea;color:#8a1f17;border:1px solid #f1a99f}\
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.75rem;margin:1rem 0}\
.card{border:1px solid #d9dee7;border-radius:8px;padding:.6rem .8rem}.card b{display:block;font-size:1.2rem}\
.card span{color:#5b6576;font-size:.85rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
th,td{border-bottom:1px solid #e3e7ee;padding:.4rem .5rem;text-align:left;vertical-align:top}th{background:#f4f6f9}\
td.n{text-align:right;font-variant-numeric:tabular-nums}code{font:13px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}\
.badge{display:inline-block;border-radius:999px;padding:.1rem .6rem;font-size:.8rem;font-weight:600}\
.b-match{background:#e6f4ea;color:#1e6b34}.b-mismatch,.b-missing_in_target{background:#fdecea;color:#8a1f17}.b-skipped{background:#eef0f3;color:#5b6576}\
.src{background:#fff8e6}.tgt{background:#eef4ff}.meta{color:#5b6576;font-size:.9rem}";

/// The report as one self-contained HTML page (no external assets).
///
/// Length: it is the page's template, written top to bottom in the order the page reads;
/// cut into helpers, the markup would no longer read as one document.
pub fn render_html(r: &VerifyReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>lite2pg verify: {}</title><style>{STYLE}</style></head><body>",
        esc(verdict(r))
    );
    let _ = write!(s, "<h1>lite2pg validation report</h1>");
    let _ = write!(
        s,
        "<div class=\"verdict {}\" id=\"verdict\">{}</div>",
        if r.ok { "ok" } else { "bad" },
        esc(verdict(r))
    );
    let _ = write!(
        s,
        "<p class=\"meta\">source <code>{}</code> → target <code>{}</code>, schema <code>{}</code>; started {}</p>",
        esc(&r.source),
        esc(&r.target),
        esc(&r.schema),
        esc(&r.started_at)
    );
    let mismatching = r
        .tables
        .iter()
        .filter(|t| !matches!(t.status, TableStatus::Match | TableStatus::Skipped))
        .count();
    let _ = write!(s, "<div class=\"summary\">");
    for (value, label) in [
        (r.tables.len().to_string(), "tables".to_string()),
        (
            mismatching.to_string(),
            "tables with differences".to_string(),
        ),
        (r.rows_compared.to_string(), "rows compared".to_string()),
        (
            r.mismatching_rows().to_string(),
            "differing rows".to_string(),
        ),
        (
            r.schema_findings.len().to_string(),
            "schema differences".to_string(),
        ),
        (format!("{:.2} s", r.duration_s), "duration".to_string()),
    ] {
        let _ = write!(
            s,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            esc(&label)
        );
    }
    let _ = write!(s, "</div>");
    let _ = write!(
        s,
        "<h2>Tables</h2><table><thead><tr><th>table</th><th>SQLite rows</th><th>PostgreSQL rows</th>\
         <th>ranges</th><th>differing rows</th><th>status</th></tr></thead><tbody>"
    );
    for t in &r.tables {
        let status = serde_json::to_value(t.status)
            .map(|v| short(&v))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td><span class=\"badge b-{}\">{}</span></td></tr>",
            esc(t.shown_name()),
            count(t.source_rows),
            count(t.target_rows),
            t.ranges_compared,
            t.mismatch_count,
            esc(&status),
            esc(t.status.label())
        );
    }
    let _ = write!(s, "</tbody></table>");
    for t in r
        .tables
        .iter()
        .filter(|t| !t.mismatches.is_empty() || t.note.is_some())
    {
        let _ = write!(
            s,
            "<h2>Differences in <code>{}</code></h2>",
            esc(&t.target_name)
        );
        if let Some(n) = &t.note {
            let _ = write!(s, "<p>{}</p>", esc(n));
        }
        if t.mismatches.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "<table><thead><tr><th>key</th><th>kind</th><th>column</th><th class=\"src\">SQLite (source)</th>\
             <th class=\"tgt\">PostgreSQL (target)</th></tr></thead><tbody>"
        );
        for m in &t.mismatches {
            let key = esc(&m.key.to_string());
            match m.kind {
                MismatchKind::Different => {
                    for c in &m.columns {
                        let _ = write!(
                            s,
                            "<tr><td><code>{key}</code></td><td>different</td><td><code>{}</code></td>\
                             <td class=\"src\"><code>{}</code></td><td class=\"tgt\"><code>{}</code></td></tr>",
                            esc(&c.column),
                            esc(&short(&c.source)),
                            esc(&short(&c.target))
                        );
                    }
                }
                MismatchKind::MissingInTarget => {
                    let row = m.row.as_ref().map(short).unwrap_or_default();
                    let _ = write!(
                        s,
                        "<tr><td><code>{key}</code></td><td>missing in target</td><td></td>\
                         <td class=\"src\"><code>{}</code></td><td class=\"tgt\">—</td></tr>",
                        esc(&row)
                    );
                }
                MismatchKind::ExtraInTarget => {
                    let row = m.row.as_ref().map(short).unwrap_or_default();
                    let _ = write!(
                        s,
                        "<tr><td><code>{key}</code></td><td>extra in target</td><td></td>\
                         <td class=\"src\">—</td><td class=\"tgt\"><code>{}</code></td></tr>",
                        esc(&row)
                    );
                }
            }
        }
        let _ = write!(s, "</tbody></table>");
        if t.mismatches_truncated {
            let _ = write!(
                s,
                "<p class=\"meta\">{} differing rows in all; the first {} are listed.</p>",
                t.mismatch_count,
                t.mismatches.len()
            );
        }
    }
    if !r.schema_findings.is_empty() {
        let _ = write!(
            s,
            "<h2>Schema differences from the plan</h2><table><thead><tr><th>table</th><th>object</th>\
             <th>planned</th><th>found</th></tr></thead><tbody>"
        );
        for f in &r.schema_findings {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&f.table),
                esc(&f.object),
                esc(&f.expected),
                esc(&f.found)
            );
        }
        let _ = write!(s, "</tbody></table>");
    }
    for n in &r.notes {
        let _ = write!(s, "<p class=\"meta\">{}</p>", esc(n));
    }
    let _ = writeln!(
        s,
        "<p class=\"meta\">lite2pg {}</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    s
}

/// Writes the report to `path`; the extension picks the form (`.json`, `.md`, `.html`).
pub fn write(r: &VerifyReport, path: &Path) -> Result<()> {
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::to_string_pretty(r).unwrap_or_default() + "\n",
        Some("md") => render_markdown(r),
        Some("html") | Some("htm") => render_html(r),
        _ => {
            return Err(Error::Usage(format!(
                "{}: a report file must end in .json, .md or .html",
                path.display()
            )))
        }
    };
    std::fs::write(path, text)
        .map_err(|e| Error::io(format!("writing the report {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VerifyReport {
        let mut t = TableVerify::new("Users", "users");
        t.status = TableStatus::Mismatch;
        t.source_rows = Some(3);
        t.target_rows = Some(3);
        t.mismatch_count = 1;
        t.mismatches.push(Mismatch {
            key: serde_json::json!({"id": 2}),
            kind: MismatchKind::Different,
            columns: vec![ColumnDiff {
                column: "name".into(),
                source: serde_json::json!("<b>Ann</b>"),
                target: serde_json::json!(""),
            }],
            row: None,
        });
        VerifyReport {
            format_version: 1,
            ok: false,
            source: "app.db".into(),
            target: "postgres://u:***@h/db".into(),
            schema: "public".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_s: 1.5,
            sample: 1.0,
            rows_compared: 6,
            tables: vec![t],
            schema_findings: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn the_html_report_is_self_contained_and_escapes_values() {
        let html = render_html(&sample());
        assert!(html.contains("DIFFERENCES FOUND"));
        assert!(
            html.contains("&lt;b&gt;Ann&lt;/b&gt;"),
            "values are escaped"
        );
        assert!(!html.contains("<b>Ann"));
        for external in ["<script src", "<link", "http://", "https://"] {
            assert!(!html.contains(external), "no external asset: {external}");
        }
    }

    #[test]
    fn markdown_and_text_name_the_differing_column() {
        let r = sample();
        assert!(render_markdown(&r).contains("| `{\"id\":2}` | different | `name` |"));
        assert!(render_text(&r).contains("{\"id\":2} name: SQLite <b>Ann</b> | PostgreSQL "));
    }
}
