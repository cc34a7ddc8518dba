//! The neutral schema model: what a SQLite database holds, before any PostgreSQL decision.
//!
//! `sqlite::introspect` fills it from PRAGMAs and the stored DDL; `translate` reads it.
//! Expressions stay as SQLite SQL text here: parsing them is the translator's job.

pub mod frameworks;

use serde::Serialize;

/// Everything in a SQLite database that a migration has to consider.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    /// Ordinary tables (and virtual tables), in `sqlite_master` order.
    pub tables: Vec<Table>,
    /// Views, in `sqlite_master` order.
    pub views: Vec<View>,
    /// Triggers: reported, never translated.
    pub triggers: Vec<Trigger>,
    /// Objects seen but deliberately not carried (internal and shadow tables), with why.
    pub skipped: Vec<SkippedObject>,
    /// Collations the schema uses that SQLite does not know (e.g. Anki's `unicase`).
    pub unknown_collations: Vec<String>,
    /// The SQLite library version that read the file.
    pub sqlite_version: String,
}

/// A table as SQLite declares it.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Name as stored in `sqlite_master`.
    pub name: String,
    /// Columns in declaration order, hidden virtual-table columns excluded.
    pub columns: Vec<Column>,
    /// Primary-key column names in key order; empty when the table has none.
    pub primary_key: Vec<String>,
    /// `WITHOUT ROWID` table.
    pub without_rowid: bool,
    /// `STRICT` table.
    pub strict: bool,
    /// The primary key is declared `AUTOINCREMENT`.
    pub autoincrement: bool,
    /// Value in `sqlite_sequence`, when the table has a row there.
    pub sequence: Option<i64>,
    /// Indexes: automatic ones backing PRIMARY KEY/UNIQUE, and `CREATE INDEX` ones.
    pub indexes: Vec<Index>,
    /// Foreign keys in PRAGMA id order.
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints, column-level ones included.
    pub checks: Vec<Check>,
    /// `Some(module)` for a virtual table.
    pub virtual_module: Option<String>,
    /// The `CREATE TABLE` statement as stored.
    pub sql: String,
}

/// A column as SQLite declares it.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Declared type exactly as written (may be empty).
    pub declared_type: String,
    /// Declared `NOT NULL`.
    pub not_null: bool,
    /// Default expression as SQLite SQL text.
    pub default: Option<String>,
    /// Declared collation (`NOCASE`, `RTRIM`, a custom one), upper-cased; `None` is BINARY.
    pub collation: Option<String>,
    /// Generated-column expression and whether it is STORED.
    pub generated: Option<Generated>,
    /// 1-based position in the primary key; 0 when not part of it.
    pub pk_position: u32,
    /// This column is the table's `INTEGER PRIMARY KEY`, an alias of the rowid.
    pub rowid_alias: bool,
}

/// A generated column's definition.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    /// The expression, SQLite SQL.
    pub expr: String,
    /// `STORED` (true) or `VIRTUAL` (false).
    pub stored: bool,
}

/// Why an index exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexOrigin {
    /// `CREATE INDEX`.
    Create,
    /// A `UNIQUE` constraint.
    Unique,
    /// The `PRIMARY KEY` constraint.
    PrimaryKey,
}

/// An index or the index behind a constraint.
#[derive(Debug, Clone, Serialize)]
pub struct Index {
    /// Index name (`sqlite_autoindex_*` for constraint indexes).
    pub name: String,
    /// Enforces uniqueness.
    pub unique: bool,
    /// Where it came from.
    pub origin: IndexOrigin,
    /// Key items in order.
    pub items: Vec<IndexItem>,
    /// Partial-index predicate, SQLite SQL.
    pub predicate: Option<String>,
    /// The `CREATE INDEX` statement, for `Create` indexes.
    pub sql: Option<String>,
}

/// One key of an index.
#[derive(Debug, Clone, Serialize)]
pub struct IndexItem {
    /// What is indexed.
    pub target: IndexTarget,
    /// Collation named for this key, upper-cased (`BINARY` is the default).
    pub collation: String,
    /// Descending order.
    pub desc: bool,
}

/// The thing an index key is built on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexTarget {
    /// A column of the table.
    Column(String),
    /// The rowid itself.
    Rowid,
    /// An expression, SQLite SQL.
    Expr(String),
}

/// A foreign key as SQLite declares it.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table, as written.
    pub ref_table: String,
    /// Referenced columns; empty means the referenced table's primary key.
    pub ref_columns: Vec<String>,
    /// `ON UPDATE` action, upper-case SQL (`NO ACTION` by default).
    pub on_update: String,
    /// `ON DELETE` action.
    pub on_delete: String,
    /// `DEFERRABLE INITIALLY DEFERRED`.
    pub deferred: bool,
}

/// A CHECK constraint.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `CONSTRAINT name`, when given.
    pub name: Option<String>,
    /// The column it was declared on, for column constraints.
    pub column: Option<String>,
    /// The expression, SQLite SQL.
    pub expr: String,
}

/// A view.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    /// View name.
    pub name: String,
    /// Explicit column list `CREATE VIEW v(a, b)`, if any.
    pub columns: Vec<String>,
    /// The SELECT, SQLite SQL.
    pub select: String,
    /// The `CREATE VIEW` statement as stored.
    pub sql: String,
}

/// A trigger; lite2pg reports triggers, it does not translate them.
#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    /// Trigger name.
    pub name: String,
    /// Table or view it is attached to.
    pub table: String,
    /// The `CREATE TRIGGER` statement.
    pub sql: String,
}

/// An object that is deliberately not migrated.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedObject {
    /// Object name.
    pub name: String,
    /// Object kind (`table`, `shadow table`, ...).
    pub kind: String,
    /// Why it is not carried.
    pub reason: String,
}

/// The names that reach a table's rowid, in the order SQLite lets a column shadow them.
pub const ROWID_NAMES: [&str; 3] = ["rowid", "_rowid_", "oid"];

/// The first rowid name that no column in `columns` shadows (`None`: all three are taken,
/// and the rowid cannot be named).
pub fn rowid_name<'a>(columns: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'static str> {
    ROWID_NAMES.into_iter().find(|r| {
        !columns
            .clone()
            .into_iter()
            .any(|c| c.eq_ignore_ascii_case(r))
    })
}

/// Whether a virtual table's module is SQLite's full-text search (FTS3, FTS4 or FTS5).
pub fn is_fts_module(module: &str) -> bool {
    matches!(module, "fts3" | "fts4" | "fts5")
}

impl Table {
    /// Whether it is an FTS virtual table ([`is_fts_module`]).
    pub fn is_fts(&self) -> bool {
        self.virtual_module.as_deref().is_some_and(is_fts_module)
    }

    /// The name that reaches this table's rowid ([`rowid_name`]).
    pub fn rowid_name(&self) -> Option<&'static str> {
        rowid_name(self.columns.iter().map(|c| c.name.as_str()))
    }

    /// Whether `name` reaches the rowid here rather than a column.
    pub fn is_rowid_name(&self, name: &str) -> bool {
        ROWID_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name))
            && !self
                .columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// A shell-style glob (`*`, `?`), ASCII case-insensitive like SQLite names.
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b) && go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Keeps the tables `--tables` selects and `--exclude` does not.
pub fn select_tables(
    schema: &mut Schema,
    include: &[String],
    exclude: &[String],
) -> crate::Result<()> {
    let keep = |name: &str| {
        (include.is_empty() || include.iter().any(|g| glob(g, name)))
            && !exclude.iter().any(|g| glob(g, name))
    };
    schema.tables.retain(|t| keep(&t.name));
    if schema.tables.is_empty() && !include.is_empty() {
        return Err(crate::Error::Usage(format!(
            "no table matches --tables {}",
            include.join(",")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn the_rowid_is_named_by_the_first_name_no_column_shadows() {
        assert_eq!(super::rowid_name(["id", "v"]), Some("rowid"));
        assert_eq!(super::rowid_name(["ROWID", "v"]), Some("_rowid_"));
        assert_eq!(super::rowid_name(["rowid", "_rowid_"]), Some("oid"));
        assert_eq!(super::rowid_name(["rowid", "_rowid_", "OID"]), None);
    }

    #[test]
    fn table_globs_match_like_a_shell() {
        assert!(glob("order*", "orders"));
        assert!(glob("order*", "Order_Lines"));
        assert!(!glob("order?", "orders_x"));
        assert!(glob("*", ""));
    }
}
