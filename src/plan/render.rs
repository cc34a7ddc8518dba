//! Renderings of a [`Plan`]: a readable summary, stable JSON, and runnable SQL.

use std::fmt::Write;

use super::{Plan, Severity};

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The DDL as a script `psql -v ON_ERROR_STOP=1 -f` runs on an empty database.
pub fn render_sql(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- lite2pg {} plan for {}",
        env!("CARGO_PKG_VERSION"),
        one_line(&plan.source)
    );
    let _ = writeln!(
        out,
        "-- schema {}, identifiers {:?}, type conflicts {:?}; {} finding(s), see `lite2pg plan --format text`",
        one_line(&plan.options.schema),
        plan.options.identifiers,
        plan.options.type_conflicts,
        plan.findings.len()
    );
    if let Some(v) = &plan.validation {
        let _ = writeln!(out, "-- {}", one_line(v));
    }
    let phases = [
        ("prelude", &plan.ddl.prelude),
        ("phase 1: tables", &plan.ddl.tables),
        ("phase 2: keys and indexes", &plan.ddl.indexes),
        ("phase 3: foreign keys", &plan.ddl.foreign_keys),
        ("views", &plan.ddl.views),
        (
            "phase 4: identities continue past the highest used id",
            &plan.ddl.sequences,
        ),
        (
            "triggers: created after the data, armed when PostgreSQL is the primary",
            &plan.ddl.triggers,
        ),
    ];
    for (title, stmts) in phases {
        if stmts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n-- {title}");
        for s in stmts {
            let _ = writeln!(out, "{};", s.sql);
        }
    }
    out
}

/// The plan as pretty JSON (docs/plan-format.md).
pub fn render_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn storage(c: &crate::sqlite::profile::StorageCounts) -> String {
    let parts: Vec<String> = [
        ("int", c.integer),
        ("real", c.real),
        ("text", c.text),
        ("blob", c.blob),
        ("null", c.null),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{k} {n}"))
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// A readable summary: per table the column mapping, then every finding.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let rows: u64 = plan.tables.iter().map(|t| t.rows).sum();
    let _ = writeln!(
        out,
        "lite2pg plan for {} (SQLite {})",
        plan.source, plan.sqlite_version
    );
    let _ = writeln!(
        out,
        "target schema {:?}, identifiers {:?}, type conflicts {:?}",
        plan.options.schema, plan.options.identifiers, plan.options.type_conflicts
    );
    let _ = writeln!(
        out,
        "{} tables, {} of {} views, {} rows profiled, {} rows would be rejected",
        plan.tables.len(),
        plan.views.iter().filter(|v| v.translated).count(),
        plan.views.len(),
        rows,
        plan.rejected_rows()
    );
    if let Some(v) = &plan.validation {
        let _ = writeln!(out, "{v}");
    }
    for t in &plan.tables {
        let _ = writeln!(out);
        let ident = match &t.row_identity {
            super::RowIdentity::PrimaryKey { columns } => format!("key ({})", columns.join(", ")),
            super::RowIdentity::AddedRowid { column } => format!("no key: rowid kept in {column}"),
            super::RowIdentity::None => "no row identity".into(),
        };
        let _ = writeln!(
            out,
            "{:?} → {:?}  {} rows, {}",
            t.source, t.target, t.rows, ident
        );
        for c in &t.columns {
            let mut ty = c.pg_type.clone();
            if c.identity {
                ty.push_str(" identity");
            }
            if c.not_null {
                ty.push_str(" not null");
            }
            let src = if c.source.is_empty() {
                "(added)".to_string()
            } else {
                c.source.clone()
            };
            let _ = writeln!(
                out,
                "  {:<24} {:<16} {:<26} → {:<28} {}",
                format!("{src} → {}", c.target),
                if c.declared_type.is_empty() {
                    "-"
                } else {
                    &c.declared_type
                },
                storage(&c.storage),
                ty,
                c.reason
            );
        }
    }
    let count = |s: Severity| plan.findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        out,
        "\nfindings: {} error(s), {} warning(s), {} note(s)",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    for f in &plan.findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        let _ = writeln!(out, "  [{sev}] {}: {} ({})", f.object, f.message, f.code);
        if let Some(sql) = &f.sql {
            let _ = writeln!(out, "      sqlite: {}", one_line(sql));
        }
    }
    out
}
