//! What an expression is translated against, and the AST pieces both the expression
//! rewriter (`expr`) and the function mapper (`functions`) build: the names in scope, where
//! the expression sits, casts, and the parser for SQL lite2pg generates itself.
//!
//! It sits below both so that `expr` can call `functions` without `functions` reaching
//! back into `expr`.

use std::collections::HashMap;

use sqlparser::ast::{CastKind, DataType, Expr, Ident, ObjectName};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::plan::PgType;

/// How deep an expression may nest before it is refused (guards the parser's stack).
pub const RECURSION_LIMIT: usize = 100;

/// A column as expressions see it.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    /// PostgreSQL name.
    pub target: String,
    /// PostgreSQL type.
    pub ty: PgType,
}

/// The names an expression may refer to.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Columns by lower-cased SQLite name.
    pub columns: HashMap<String, ScopeColumn>,
    /// Columns per qualifier (table name or alias), lower-cased.
    pub qualified: HashMap<String, HashMap<String, ScopeColumn>>,
    /// Relation renames (views): lower-cased SQLite name → PostgreSQL name.
    pub relations: HashMap<String, String>,
    /// Unknown names are kept as written (view bodies, where aliases abound).
    pub lenient: bool,
}

impl Scope {
    /// The column a SQLite name refers to (SQLite names are ASCII case-insensitive).
    pub fn column(&self, sqlite_name: &str) -> Option<&ScopeColumn> {
        self.columns.get(&sqlite_name.to_ascii_lowercase())
    }

    /// The PostgreSQL name of the column a SQLite name refers to.
    pub fn target(&self, sqlite_name: &str) -> Option<String> {
        self.column(sqlite_name).map(|c| c.target.clone())
    }

    /// The type of a (translated, quoted) identifier that names a column in scope.
    pub fn type_of_target(&self, e: &Expr) -> Option<PgType> {
        let name = match e {
            Expr::Identifier(id) if id.quote_style == Some('"') => &id.value,
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                // The qualifier's own columns first (a trigger's NEW and OLD, an alias).
                let own = self
                    .qualified
                    .get(&parts[0].value.to_ascii_lowercase())
                    .and_then(|cols| cols.values().find(|c| c.target == parts[1].value));
                if let Some(c) = own {
                    return Some(c.ty);
                }
                &parts[1].value
            }
            Expr::Nested(inner) => return self.type_of_target(inner),
            _ => return None,
        };
        self.columns
            .values()
            .find(|c| &c.target == name)
            .map(|c| c.ty)
    }
}

/// Where an expression sits, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A column DEFAULT.
    Default,
    /// A CHECK constraint.
    Check,
    /// An index key.
    IndexKey,
    /// A partial-index predicate.
    Predicate,
    /// A generated column.
    Generated,
    /// Inside a view's SELECT.
    View,
    /// Inside a trigger's body.
    Trigger,
}

impl Position {
    /// Inside a whole query (view, trigger body), where subqueries and any node are allowed.
    pub fn in_query(self) -> bool {
        matches!(self, Position::View | Position::Trigger)
    }
}

/// Parses PostgreSQL SQL that lite2pg generated itself.
pub fn pg(sql: &str) -> Result<Expr, String> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("internal: generated SQL `{sql}` does not parse: {e}"))
}

/// `CAST(expr AS ty)` as an AST node.
pub fn cast(expr: Expr, data_type: DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        format: None,
    }
}

/// A PostgreSQL type name as an AST data type.
pub fn custom_type(name: &str) -> DataType {
    DataType::Custom(ObjectName::from(vec![Ident::new(name)]), vec![])
}
