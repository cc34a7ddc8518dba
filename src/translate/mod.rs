//! The schema translator: SQLite schema + data profile → a [`Plan`] of PostgreSQL DDL.
//!
//! Order of work: names first (tables, then views, then derived constraint and index
//! names, all in one relation namespace), then each table's column types, defaults and
//! CHECKs, then keys and indexes, foreign keys, views, and identity restarts. Every
//! decision that is not a plain one-to-one mapping becomes a [`Finding`].

mod check;
mod command;
mod conventions;
pub mod defaults;
pub mod expr;
pub mod fts;
pub mod functions;
pub mod indexes;
mod load;
pub mod names;
mod refs;
pub mod scope;
pub mod tables;
mod triggers;
pub mod types;
pub mod views;

pub use check::{make_plan, plan_checked, Check};
pub use command::{plan, render, Format, PlanRequest};
pub use load::{load, load_from};

use std::collections::HashMap;

use crate::model::Schema;
use crate::plan::{
    Created, Ddl, Finding, ObjectKind, Plan, PlanOptions, Severity, Statement, FORMAT_VERSION,
};
use crate::sqlite::profile::TableProfile;

use crate::plan::PgType;
use names::{Namer, Renamed};

/// A column, by lower-cased table and column name.
pub type ColumnKey = (String, String);

/// Types forced on columns so both ends of every foreign key can be compared.
///
/// Each column's type is chosen from its own data, so a key column holding only integers
/// and the text-and-integer column it references would get bigint and text, and
/// PostgreSQL could not create the foreign key. Columns joined by foreign keys form
/// groups; a group mixing text with numbers is carried as text throughout.
pub fn fk_type_overrides(
    schema: &Schema,
    profiles: &HashMap<String, TableProfile>,
    opts: &PlanOptions,
) -> HashMap<ColumnKey, PgType> {
    let key = |t: &str, c: &str| (t.to_ascii_lowercase(), c.to_ascii_lowercase());
    let empty = TableProfile::default();
    let mut ty: HashMap<ColumnKey, PgType> = HashMap::new();
    for t in &schema.tables {
        let p = profiles.get(&t.name).unwrap_or(&empty);
        for (i, c) in t.columns.iter().enumerate() {
            let prof = p.columns.get(i).cloned().unwrap_or_default();
            ty.insert(
                key(&t.name, &c.name),
                types::choose_for(c, &prof, opts.type_conflicts, opts.invalid_text).ty,
            );
        }
    }
    let mut parent: HashMap<ColumnKey, ColumnKey> = HashMap::new();
    fn root(parent: &HashMap<ColumnKey, ColumnKey>, k: &ColumnKey) -> ColumnKey {
        let mut k = k.clone();
        while let Some(p) = parent.get(&k) {
            if *p == k {
                break;
            }
            k = p.clone();
        }
        k
    }
    for t in &schema.tables {
        for fk in &t.foreign_keys {
            let Some(rt) = schema
                .tables
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case(&fk.ref_table))
            else {
                continue;
            };
            let refs = if fk.ref_columns.is_empty() {
                &rt.primary_key
            } else {
                &fk.ref_columns
            };
            for (c, r) in fk.columns.iter().zip(refs) {
                let (a, b) = (key(&t.name, c), key(&rt.name, r));
                if ty.contains_key(&a) && ty.contains_key(&b) {
                    let (ra, rb) = (root(&parent, &a), root(&parent, &b));
                    if ra != rb {
                        parent.insert(ra, rb);
                    }
                }
            }
        }
    }
    let mut groups: HashMap<ColumnKey, Vec<ColumnKey>> = HashMap::new();
    for k in parent.keys().chain(parent.values()) {
        groups.entry(root(&parent, k)).or_default().push(k.clone());
    }
    let mut out = HashMap::new();
    for mut members in groups.into_values() {
        members.sort();
        members.dedup();
        let families: Vec<&str> = members.iter().map(|m| ty[m].family()).collect();
        let has_text = families.contains(&"text");
        let only_text_or_numbers = families
            .iter()
            .all(|f| matches!(*f, "text" | "integer" | "number"));
        if has_text && only_text_or_numbers && families.iter().any(|f| *f != "text") {
            for m in members {
                if ty[&m].family() != "text" {
                    out.insert(m, PgType::Text);
                }
            }
        }
    }
    out
}

/// Collects findings as translation goes.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Records a finding.
    pub fn add(
        &mut self,
        severity: Severity,
        code: &str,
        object: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(Finding {
            severity,
            code: code.into(),
            object: object.into(),
            message: message.into(),
            sql: None,
        });
    }

    /// Records a finding about an object that is not carried, with its SQL.
    pub fn left_out(
        &mut self,
        code: &str,
        object: impl Into<String>,
        message: impl Into<String>,
        sql: &str,
    ) {
        self.0.push(Finding {
            severity: Severity::Warning,
            code: code.into(),
            object: object.into(),
            message: message.into(),
            sql: Some(sql.to_string()),
        });
    }

    /// Reports a rename other than plain lower-casing.
    pub fn renamed(&mut self, kind: &str, source: &str, target: &str, how: Option<Renamed>) {
        let why = match how {
            Some(Renamed::Truncated) => {
                "longer than PostgreSQL's 63-byte limit: shortened with a hash suffix"
            }
            Some(Renamed::Deduplicated) => "collides with another name after mapping: made unique",
            _ => return,
        };
        self.add(
            Severity::Warning,
            "name.renamed",
            format!("{kind} {}", crate::pg::quote_ident(source)),
            format!("renamed to {}: {why}", crate::pg::quote_ident(target)),
        );
    }
}

/// Builds the plan for `schema` given each table's profile (by SQLite table name).
pub fn build_plan(
    source: &str,
    schema: &Schema,
    profiles: &HashMap<String, TableProfile>,
    opts: &PlanOptions,
) -> Plan {
    let mut findings = Findings::default();
    let mut relations = Namer::new(opts.identifiers);
    let mut ddl = Ddl::default();
    // External-content FTS tables are not copied: their text is their content table's.
    let (schema, external_fts) = fts::split_external(schema);
    let schema = &schema;

    report_skipped(schema, &mut findings);
    report_frameworks(schema, opts.framework, &mut findings);

    // Table names are claimed before anything else so they keep their names.
    let table_names: Vec<(String, Option<Renamed>)> = schema
        .tables
        .iter()
        .map(|t| relations.map(&t.name))
        .collect();
    for (t, (target, how)) in schema.tables.iter().zip(&table_names) {
        findings.renamed("table", &t.name, target, how.clone());
    }
    let fts_names: Vec<String> = external_fts
        .iter()
        .map(|(t, _)| {
            let (target, how) = relations.map(&t.name);
            findings.renamed("table", &t.name, &target, how);
            target
        })
        .collect();
    let view_names: Vec<(String, Option<Renamed>)> = schema
        .views
        .iter()
        .map(|v| relations.map(&v.name))
        .collect();
    for (v, (target, how)) in schema.views.iter().zip(&view_names) {
        findings.renamed("view", &v.name, target, how.clone());
    }

    let empty = TableProfile::default();
    let overrides = fk_type_overrides(schema, profiles, opts);
    let frameworks = crate::model::frameworks::detect(schema);
    let mut built = Vec::new();
    for (t, (target, _)) in schema.tables.iter().zip(&table_names) {
        let profile = profiles.get(&t.name).unwrap_or(&empty);
        built.push(tables::translate_table(
            t,
            target,
            profile,
            tables::Context {
                opts,
                overrides: &overrides,
                frameworks: &frameworks,
            },
            &mut findings,
        ));
    }
    for b in &built {
        indexes::emit_indexes(b, opts, &mut relations, &mut ddl, &mut findings);
    }
    tables::emit_foreign_keys(&built, opts, &mut ddl, &mut findings);

    let mut view_plans = fts::make_searchable(
        &mut built,
        &external_fts,
        &fts_names,
        opts,
        &mut relations,
        &mut ddl,
        &mut findings,
    );
    view_plans.extend(views::translate_views(
        schema,
        &view_names,
        &built,
        opts,
        &mut ddl,
        &mut findings,
    ));

    let fts_tables: Vec<String> = external_fts
        .iter()
        .map(|(t, _)| t.name.to_ascii_lowercase())
        .collect();
    let trigger_plans = triggers::translate_triggers(
        schema,
        &built,
        &view_plans,
        &fts_tables,
        opts,
        &mut ddl,
        &mut findings,
    );

    let lowered = built
        .iter()
        .filter(|b| b.plan.source != b.plan.target)
        .count()
        + built
            .iter()
            .flat_map(|b| &b.plan.columns)
            .filter(|c| !c.source.is_empty() && c.source != c.target)
            .count();
    if lowered > 0 {
        findings.add(
            Severity::Info,
            "name.lowered",
            "identifiers",
            format!(
                "{lowered} table and column names lower-cased so unquoted SQL keeps working \
                 (--identifiers preserve keeps them as written)"
            ),
        );
    }

    let uses_citext =
        built.iter().any(|b| b.uses_citext) || ddl.all().any(|s| s.sql.contains("citext"));
    ddl.prelude = prelude(opts, uses_citext);
    for b in &built {
        ddl.tables.push(b.create.clone());
        if let Some(seq) = &b.sequence {
            ddl.sequences.push(seq.clone());
        }
    }

    Plan {
        format_version: FORMAT_VERSION,
        source: source.to_string(),
        sqlite_version: schema.sqlite_version.clone(),
        options: opts.clone(),
        tables: built.into_iter().map(|b| b.plan).collect(),
        views: view_plans,
        triggers: trigger_plans,
        findings: findings.0,
        ddl,
        validation: None,
        adopted: false,
    }
}

/// Findings for objects seen and not carried (internal, shadow and unreadable tables) and
/// for collations neither side knows.
fn report_skipped(schema: &Schema, findings: &mut Findings) {
    for s in &schema.skipped {
        findings.add(
            if s.kind == "internal table" || s.kind == "shadow table" {
                Severity::Info
            } else {
                Severity::Error
            },
            "object.skipped",
            format!("{} {}", s.kind, crate::pg::quote_ident(&s.name)),
            s.reason.clone(),
        );
    }
    for c in &schema.unknown_collations {
        findings.add(
            Severity::Warning,
            "collation.unknown",
            format!("collation {c}"),
            format!(
                "custom collation {c} is not built into SQLite or PostgreSQL: columns and indexes \
                 using it compare as binary text in PostgreSQL; choose an ICU collation by hand if \
                 ordering matters"
            ),
        );
    }
}

/// The statements before the tables: the target schema (unless `public`) and citext when
/// a column or index uses it.
fn prelude(opts: &PlanOptions, uses_citext: bool) -> Vec<Statement> {
    let mut ddl = Ddl::default();
    if opts.schema != "public" {
        ddl.prelude.push(Statement {
            object: format!("schema {}", crate::pg::quote_ident(&opts.schema)),
            sql: format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                crate::pg::quote_ident(&opts.schema)
            ),
            optional: false,
            constraint: None,
            creates: Created::new(ObjectKind::Schema, "", &opts.schema),
            parts: None,
            source: None,
            checks: Vec::new(),
        });
    }
    if uses_citext {
        ddl.prelude.push(Statement {
            object: "extension citext".into(),
            sql: "CREATE EXTENSION IF NOT EXISTS citext".into(),
            optional: false,
            constraint: None,
            creates: Created::new(ObjectKind::Extension, "", "citext"),
            parts: None,
            checks: Vec::new(),
            source: None,
        });
    }
    ddl.prelude
}

/// A finding per framework whose bookkeeping the database holds: the path on which its
/// application runs unchanged on PostgreSQL.
fn report_frameworks(
    schema: &Schema,
    named: Option<crate::model::frameworks::Framework>,
    findings: &mut Findings,
) {
    let mut frameworks: Vec<_> = named.into_iter().collect();
    for fw in crate::model::frameworks::detect(schema) {
        if !frameworks.contains(&fw) {
            frameworks.push(fw);
        }
    }
    for fw in frameworks {
        findings.add(
            Severity::Info,
            "framework.detected",
            fw.name(),
            format!(
                "this is a {} application's database. For the application to run unchanged, \
                 let {} make the PostgreSQL schema ({}), then load the data into it with \
                 `lite2pg migrate APP.db --to URL --data-only`: lite2pg converts every value \
                 into the types the framework chose (docs/frameworks.md)",
                fw.name(),
                fw.name(),
                fw.schema_command()
            ),
        );
    }
}
