//! `schema/typemap.toml` is the default type mapping as data, for users, tools and
//! reviewers; the translator's rules live in code (src/translate/types.rs). This test keeps
//! the two in agreement: for every row of the file it builds a SQLite column of that
//! declared type holding a value that fits, plans it, and compares the PostgreSQL type.

mod common;

use common::sqlite;
use lite2pg::plan::PlanOptions;
use lite2pg::translate::{make_plan, Check};

/// `[section]` → (key, value) rows of the file, in order; comments and blank lines dropped.
fn typemap() -> Vec<(String, String, String)> {
    let text = include_str!("../schema/typemap.toml");
    let mut section = String::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (key, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("schema/typemap.toml: `key = \"value\"` expected: {line}"));
        rows.push((
            section.clone(),
            key.trim().trim_matches('"').to_string(),
            value.trim().trim_matches('"').to_string(),
        ));
    }
    rows
}

/// A value that fits a proposal of `declared` (SQL literal), and `declared` made concrete.
fn fitting(declared: &str) -> (String, &'static str) {
    let concrete = declared.replace("(p,s)", "(10,2)").replace("(n)", "(10)");
    let base = concrete
        .split('(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let value = match base.as_str() {
        "DECIMAL" | "NUMERIC" => "12.34",
        "REAL" | "DOUBLE" | "FLOAT" => "1.5",
        "VARCHAR" | "NVARCHAR" | "CHAR" | "TEXT" | "CLOB" => "'abc'",
        "BLOB" => "x'00ff'",
        "BOOLEAN" | "BOOL" => "1",
        "DATE" => "'2024-01-02'",
        "DATETIME" | "TIMESTAMP" => "'2024-01-02 03:04:05'",
        "TIME" => "'03:04:05'",
        "JSON" => "'{\"a\": 1}'",
        "UUID" | "GUID" => "'123e4567-e89b-12d3-a456-426614174000'",
        _ => "7",
    };
    (concrete, value)
}

/// The PostgreSQL type lite2pg plans for a column declared `declared` holding `value` (no
/// row when `None`), with `collate` if given.
fn planned(declared: &str, value: Option<&str>, collate: Option<&str>) -> String {
    let collate = collate.map(|c| format!(" COLLATE {c}")).unwrap_or_default();
    let insert = value
        .map(|v| format!("INSERT INTO t (c) VALUES ({v});"))
        .unwrap_or_default();
    let f = sqlite(&format!(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, c {declared}{collate}); {insert}"
    ));
    let plan = make_plan(&f.path, &PlanOptions::default(), &Check::Off).expect("plan");
    plan.tables[0]
        .columns
        .iter()
        .find(|c| c.source == "c")
        .map(|c| c.pg_type.clone())
        .expect("column c is planned")
}

#[test]
fn the_type_mapping_file_agrees_with_the_translator() {
    let rows = typemap();
    assert!(rows.len() > 20, "schema/typemap.toml looks truncated");
    let mut wrong = Vec::new();
    for (section, key, value) in &rows {
        match section.as_str() {
            "affinity_fallback" => {
                let got = planned(key, None, None);
                if &got != value {
                    wrong.push(format!("[{section}] {key}: file {value}, translator {got}"));
                }
            }
            "proposals" => {
                for declared in key.split('|') {
                    let (concrete, v) = fitting(declared);
                    let expected = value.replace("(p,s)", "(10,2)").replace("(n)", "(10)");
                    let got = planned(&concrete, Some(v), None);
                    if got != expected {
                        wrong.push(format!(
                            "[{section}] {concrete}: file {expected}, translator {got}"
                        ));
                    }
                }
            }
            "collations" => {
                // Parenthesised values describe a behaviour rather than name a type.
                if value.starts_with('(') {
                    continue;
                }
                let got = planned("TEXT", Some("'abc'"), Some(key));
                if &got != value {
                    wrong.push(format!("[{section}] {key}: file {value}, translator {got}"));
                }
            }
            other => wrong.push(format!("unknown section [{other}]")),
        }
    }
    assert!(
        wrong.is_empty(),
        "schema/typemap.toml and the translator disagree; fix one of them:\n{}",
        wrong.join("\n")
    );
}
