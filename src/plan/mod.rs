//! The migration plan: every decision the translator made, the DDL that carries them out,
//! and the findings a user must see. One model, rendered as text, JSON or SQL.
//!
//! The JSON rendering is a stable interface documented in docs/plan-format.md; bump
//! [`FORMAT_VERSION`] on any incompatible change.

pub mod clauses;
mod render;
mod types;
pub mod validate;

pub use crate::pg::control::{Created, ObjectKind};
pub use render::{render_json, render_sql, render_text};
pub use types::{
    Conversion, DecimalReading, IdentPolicy, InvalidText, PgType, SourceForm, SourceZone,
    TypeConflicts, Zone,
};

use serde::Serialize;

use crate::sqlite::profile::StorageCounts;
use crate::sqlite::Affinity;

/// Version of the JSON plan format.
pub const FORMAT_VERSION: u32 = 1;

/// Options that shape a plan.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PlanOptions {
    /// Target schema in PostgreSQL.
    pub schema: String,
    /// Identifier policy.
    pub identifiers: IdentPolicy,
    /// Type-conflict policy.
    pub type_conflicts: TypeConflicts,
    /// The application's framework as the user named it (`--framework`), for databases
    /// whose bookkeeping does not show it.
    #[serde(default)]
    pub framework: Option<crate::model::frameworks::Framework>,
    /// What to do with text PostgreSQL cannot hold (`--invalid-text`).
    #[serde(default)]
    pub invalid_text: InvalidText,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            schema: "public".into(),
            identifiers: IdentPolicy::Lower,
            type_conflicts: TypeConflicts::Widen,
            framework: None,
            invalid_text: InvalidText::Reject,
        }
    }
}

/// The whole plan.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The SQLite file, as given.
    pub source: String,
    /// SQLite library version that read it.
    pub sqlite_version: String,
    /// Options in force.
    pub options: PlanOptions,
    /// Per table decisions.
    pub tables: Vec<TablePlan>,
    /// Per view outcome.
    pub views: Vec<ViewPlan>,
    /// Per trigger outcome.
    #[serde(default)]
    pub triggers: Vec<TriggerPlan>,
    /// Everything the user should know, in order of discovery.
    pub findings: Vec<Finding>,
    /// The PostgreSQL DDL, by phase.
    pub ddl: Ddl,
    /// Whether (and where) the DDL was test-applied.
    pub validation: Option<String>,
    /// The tables were made by the application's framework and adopted as they are
    /// (`--data-only`): the plan's tables and columns are theirs, and the schema check
    /// compares only the columns lite2pg fills.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
}

/// How a table's rows are identified (for resume, verify and capture).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RowIdentity {
    /// The primary key's columns (PostgreSQL names).
    PrimaryKey {
        /// Key columns.
        columns: Vec<String>,
    },
    /// No key: the SQLite rowid is carried in an added column.
    AddedRowid {
        /// The added column's PostgreSQL name.
        column: String,
    },
    /// No key and no rowid (not expected: WITHOUT ROWID requires a key).
    None,
}

/// Decisions for one table.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TablePlan {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name.
    pub target: String,
    /// Rows profiled.
    pub rows: u64,
    /// `WITHOUT ROWID` in SQLite.
    pub without_rowid: bool,
    /// How rows are identified.
    pub row_identity: RowIdentity,
    /// Column decisions in order.
    pub columns: Vec<ColumnPlan>,
    /// Identity restart value (next id), when the table has a rowid-alias key.
    pub next_id: Option<i64>,
    /// Rows the copier will reject under this plan.
    pub rejected_rows: u64,
}

/// Decisions for one column.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ColumnPlan {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name (the added rowid column has no source).
    pub target: String,
    /// Declared SQLite type.
    pub declared_type: String,
    /// SQLite affinity of that type.
    pub affinity: Affinity,
    /// Storage classes seen.
    pub storage: StorageCounts,
    /// Chosen PostgreSQL type, as SQL.
    pub pg_type: String,
    /// Chosen PostgreSQL type, for the copier's encoder. Not stored: a plan read back from
    /// the control schema serves verification, which takes types from the catalog.
    #[serde(skip, default = "unstored_type")]
    pub ty: PgType,
    /// Why.
    pub reason: String,
    /// How the copier converts values.
    pub conversion: Conversion,
    /// NOT NULL in PostgreSQL.
    pub not_null: bool,
    /// Computed by PostgreSQL (not copied).
    pub generated: bool,
    /// Identity column.
    pub identity: bool,
    /// Rows this column makes the copier reject.
    pub rejected_rows: u64,
    /// How the application stored the values in SQLite, for the reverse applier (adopted
    /// schemas; `None`: as the type implies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_form: Option<SourceForm>,
}

fn unstored_type() -> PgType {
    PgType::Text
}

/// Outcome for one view.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ViewPlan {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name.
    pub target: String,
    /// Whether a PostgreSQL view is created.
    pub translated: bool,
}

/// Outcome for one trigger.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TriggerPlan {
    /// SQLite name.
    pub source: String,
    /// SQLite table or view it is on.
    pub table: String,
    /// PostgreSQL table or view it is on.
    pub target_table: String,
    /// PostgreSQL trigger name.
    pub name: String,
    /// PostgreSQL function it calls.
    pub function: String,
    /// Whether a PostgreSQL trigger is created.
    pub translated: bool,
}

impl TriggerPlan {
    /// How reports and the plan's statements name it.
    pub fn object(&self) -> String {
        format!(
            "trigger {} on {}",
            crate::pg::quote_ident(&self.name),
            crate::pg::quote_ident(&self.target_table)
        )
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record: a faithful conversion.
    Info,
    /// Needs a look: something changed shape or was left out.
    Warning,
    /// Data will be rejected, or an object cannot be carried.
    Error,
}

/// One thing the user should know.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `type.widened`.
    pub code: String,
    /// The object concerned, e.g. `table "Order".Freight`.
    pub object: String,
    /// What happened and what to do.
    pub message: String,
    /// The original SQLite SQL, for objects not carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// One DDL statement and the object it creates.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Statement {
    /// What it creates, for reports and errors.
    pub object: String,
    /// The SQL, without trailing semicolon.
    pub sql: String,
    /// Whether leaving it out keeps the data intact (constraints, indexes, views).
    pub optional: bool,
    /// The constraint it adds, for phases that build it in steps.
    #[serde(skip)]
    pub constraint: Option<Constraint>,
    /// The object it creates that `rollback --run` drops, recorded with the run in typed
    /// columns (schemas, extensions, tables and views; keys and indexes go with their table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creates: Option<Created>,
    /// A `CREATE TABLE`'s pieces, so the test-apply can leave out a clause PostgreSQL
    /// refuses instead of the table.
    #[serde(skip)]
    pub parts: Option<Box<clauses::TableParts>>,
    /// The SQLite text it was translated from (a view's or an index's), for the finding
    /// when PostgreSQL refuses it.
    #[serde(skip)]
    pub source: Option<String>,
    /// SQL the test-apply runs under `EXPLAIN` after the statement, to meet at planning
    /// time what PostgreSQL would otherwise check only when the object is used (the
    /// statements inside a trigger's function).
    #[serde(skip)]
    pub checks: Vec<String>,
}

/// A key or foreign-key constraint, taken apart so `migrate` can build it in steps: a unique
/// index first and then the constraint on it; a foreign key `NOT VALID` and then validated.
#[derive(Debug, Clone)]
pub enum Constraint {
    /// `PRIMARY KEY` or `UNIQUE` on plain columns.
    Key {
        /// Qualified, quoted table.
        table: String,
        /// Constraint (and index) name, unquoted.
        name: String,
        /// `PRIMARY KEY` rather than `UNIQUE`.
        primary: bool,
        /// Key columns, unquoted.
        columns: Vec<String>,
    },
    /// An index that backs no constraint (plain, partial or on expressions).
    Index {
        /// Qualified, quoted table.
        table: String,
    },
    /// `FOREIGN KEY`.
    Foreign {
        /// Qualified, quoted referencing table.
        table: String,
        /// Constraint name, unquoted.
        name: String,
        /// Referencing columns, unquoted.
        columns: Vec<String>,
        /// Qualified, quoted referenced table.
        ref_table: String,
        /// Referenced columns, unquoted.
        ref_columns: Vec<String>,
    },
}

/// The DDL, in the order it must run.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Ddl {
    /// Schema and extensions.
    pub prelude: Vec<Statement>,
    /// CREATE TABLE, without keys or foreign keys (phase 1).
    pub tables: Vec<Statement>,
    /// Primary keys, unique constraints and indexes (phase 2, after the data).
    pub indexes: Vec<Statement>,
    /// Foreign keys (phase 3).
    pub foreign_keys: Vec<Statement>,
    /// Views.
    pub views: Vec<Statement>,
    /// Identity restarts past the highest used id (phase 4).
    pub sequences: Vec<Statement>,
    /// Trigger functions and triggers, after the data.
    #[serde(default)]
    pub triggers: Vec<Statement>,
}

impl Ddl {
    /// All statements in order.
    pub fn all(&self) -> impl Iterator<Item = &Statement> {
        self.prelude
            .iter()
            .chain(&self.tables)
            .chain(&self.indexes)
            .chain(&self.foreign_keys)
            .chain(&self.views)
            .chain(&self.sequences)
            .chain(&self.triggers)
    }

    /// All statements, mutably, in order.
    pub fn phases_mut(&mut self) -> [&mut Vec<Statement>; 7] {
        [
            &mut self.prelude,
            &mut self.tables,
            &mut self.indexes,
            &mut self.foreign_keys,
            &mut self.views,
            &mut self.sequences,
            &mut self.triggers,
        ]
    }
}

impl Plan {
    /// The worst severity among findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Total rows the copier will reject.
    pub fn rejected_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rejected_rows).sum()
    }
}
