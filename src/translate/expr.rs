//! Translating SQLite expressions (CHECK, defaults, index keys and predicates, generated
//! columns, view bodies) to PostgreSQL through sqlparser's AST, never by string edits.
//!
//! An expression is parsed with the SQLite dialect, rewritten in place (names mapped and
//! quoted, functions mapped by `functions`, literals and operators adjusted to PostgreSQL's
//! typing), then printed. Anything without a faithful translation is an `Err` naming why,
//! so the caller reports it and leaves the object out rather than emitting it broken.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, Ident, UnaryOperator, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use super::functions;
use super::scope::{cast, custom_type, pg, Position, Scope, RECURSION_LIMIT};
use crate::plan::PgType;
use crate::sqlite::ddl_text;

/// Parses SQLite SQL into an expression.
pub fn parse_sqlite(sql: &str) -> Result<Expr, String> {
    let tokens = ddl_text::tokenize(sql)?;
    ddl_text::printable(&tokens)?;
    let mut parser = Parser::new(&SQLiteDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens(tokens);
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("cannot parse `{sql}`: {e}"))?;
    if parser.peek_token().token != Token::EOF {
        return Err(format!(
            "cannot parse `{sql}`: unexpected text after the expression"
        ));
    }
    Ok(expr)
}

/// Translates one expression; `Err` says why it cannot be carried.
pub fn translate(sql: &str, scope: &Scope, pos: Position) -> Result<String, String> {
    let mut expr = parse_sqlite(sql)?;
    rewrite(&mut expr, scope, pos)?;
    if matches!(pos, Position::Check | Position::Predicate) {
        expr = as_condition(expr, scope)?;
    }
    checked_output(expr.to_string())
}

/// SQL printed from sqlparser's syntax tree, checked before it is used.
///
/// Names and strings sqlparser would print wrongly are refused when the SQLite text is
/// read (`ddl_text::misprinted`); as a second line, the printed SQL must read back as
/// PostgreSQL tokens with no statement end and no comment, so that nothing in a crafted
/// SQLite schema can be run as SQL. What fails is left out and reported.
pub fn checked_output(sql: String) -> Result<String, String> {
    let unsafe_sql = |why: &str| {
        Err(format!(
            "the translated SQL {why}; left out so nothing in the SQLite schema can be run as SQL"
        ))
    };
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, &sql).tokenize() else {
        return unsafe_sql("does not read back as PostgreSQL");
    };
    for t in &tokens {
        match t {
            Token::SemiColon => return unsafe_sql("holds a `;`"),
            Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                return unsafe_sql("holds a comment")
            }
            _ => {}
        }
    }
    Ok(sql)
}

/// Rewrites an expression tree in place.
pub fn rewrite<V: VisitMut>(node: &mut V, scope: &Scope, pos: Position) -> Result<(), String> {
    let mut r = Rewriter { scope, pos };
    match node.visit(&mut r) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(why) => Err(why),
    }
}

struct Rewriter<'a> {
    scope: &'a Scope,
    pos: Position,
}

fn quoted(name: &str) -> Expr {
    Expr::Identifier(Ident::with_quote('"', name))
}

fn string(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_string()))
}

fn bool_literal(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) if n == "0" => Some(Expr::value(Value::Boolean(false))),
            Value::Number(n, _) if n == "1" => Some(Expr::value(Value::Boolean(true))),
            Value::Boolean(_) => Some(e.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// SQLite type names in CAST map by affinity, like SQLite itself reads them.
fn cast_type(dt: &DataType) -> DataType {
    use crate::sqlite::Affinity;
    match Affinity::of(&dt.to_string()) {
        Affinity::Integer => DataType::BigInt(None),
        Affinity::Real => DataType::DoublePrecision,
        Affinity::Text => DataType::Text,
        Affinity::Blob => DataType::Bytea,
        Affinity::Numeric => custom_type("numeric"),
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = String;

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<String> {
        let subquery = matches!(
            expr,
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
        );
        if subquery && !self.pos.in_query() {
            return ControlFlow::Break(
                "subqueries are not allowed here in PostgreSQL (CHECK, index, default and \
                 generated expressions must be self-contained)"
                    .into(),
            );
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<String> {
        match self.rewrite_one(expr) {
            Ok(Some(new)) => {
                *expr = new;
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(why) => ControlFlow::Break(why),
        }
    }
}

impl Rewriter<'_> {
    /// Rewrites one node in place, or returns its replacement; `Err` says why it has no
    /// faithful PostgreSQL form.
    ///
    /// Length: one arm per kind of SQLite expression node (names, literals, operators,
    /// casts, functions, COLLATE, LIKE, …), which is the translation table itself.
    fn rewrite_one(&self, expr: &mut Expr) -> Result<Option<Expr>, String> {
        let scope = self.scope;
        match expr {
            Expr::Identifier(id) => {
                if let Some(c) = scope.column(&id.value) {
                    return Ok(Some(quoted(&c.target)));
                }
                if self.pos == Position::Default && id.quote_style.is_some() {
                    // SQLite reads a double-quoted word that names no column as a string.
                    return Ok(Some(string(&id.value)));
                }
                if matches!(id.value.to_ascii_lowercase().as_str(), "true" | "false")
                    && id.quote_style.is_none()
                {
                    return Ok(Some(Expr::value(Value::Boolean(
                        id.value.eq_ignore_ascii_case("true"),
                    ))));
                }
                if scope.lenient {
                    return Ok(None);
                }
                Err(format!(
                    "refers to `{}`, which is not a column of this table",
                    id.value
                ))
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                let q = parts[0].value.to_ascii_lowercase();
                let c = parts[1].value.to_ascii_lowercase();
                let col = scope
                    .qualified
                    .get(&q)
                    .and_then(|cols| cols.get(&c))
                    .or_else(|| scope.columns.get(&c));
                match (col, scope.lenient) {
                    (Some(col), false) => Ok(Some(quoted(&col.target))),
                    (Some(col), true) => {
                        let qual = scope
                            .relations
                            .get(&q)
                            .cloned()
                            .map(|t| Ident::with_quote('"', t))
                            .unwrap_or_else(|| parts[0].clone());
                        Ok(Some(Expr::CompoundIdentifier(vec![
                            qual,
                            Ident::with_quote('"', &col.target),
                        ])))
                    }
                    (None, true) => Ok(None),
                    (None, false) => Err(format!(
                        "refers to `{}.{}`, not a column of this table",
                        parts[0].value, parts[1].value
                    )),
                }
            }
            Expr::Value(v) => match &v.value {
                Value::HexStringLiteral(h) => {
                    Ok(Some(cast(string(&format!("\\x{h}")), DataType::Bytea)))
                }
                Value::DoubleQuotedString(s) => Ok(Some(string(s))),
                _ => Ok(None),
            },
            Expr::Function(f) => functions::rewrite(f, scope),
            Expr::Substring {
                expr: e,
                substring_from,
                substring_for,
                ..
            } => {
                // sqlparser reads substr()/substring() into its own node.
                let mut args = vec![functions::as_text((**e).clone(), scope).to_string()];
                args.extend(substring_from.iter().map(|x| x.to_string()));
                args.extend(substring_for.iter().map(|x| x.to_string()));
                if substring_from.as_deref().is_some_and(|x| {
                    matches!(
                        x,
                        Expr::UnaryOp {
                            op: UnaryOperator::Minus,
                            ..
                        }
                    )
                }) {
                    return Err("substr() with a negative start counts from the end in SQLite but not in PostgreSQL".into());
                }
                Ok(Some(pg(&format!("substr({})", args.join(", ")))?))
            }
            Expr::Like {
                negated,
                any,
                expr: e,
                pattern,
                escape_char,
            } => {
                // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE is the match.
                Ok(Some(Expr::ILike {
                    negated: *negated,
                    any: *any,
                    expr: e.clone(),
                    pattern: pattern.clone(),
                    escape_char: escape_char.clone(),
                }))
            }
            Expr::Cast {
                kind,
                expr: inner,
                data_type,
                format,
            } => Ok(Some(Expr::Cast {
                kind: kind.clone(),
                expr: inner.clone(),
                data_type: cast_type(data_type),
                format: format.clone(),
            })),
            Expr::Collate {
                expr: inner,
                collation,
            } => {
                let name = collation.to_string().trim_matches('"').to_ascii_uppercase();
                match name.as_str() {
                    "NOCASE" => Ok(Some(cast((**inner).clone(), custom_type("citext")))),
                    "BINARY" => Ok(Some(cast((**inner).clone(), DataType::Text))),
                    other => Err(format!("collation {other} has no PostgreSQL equivalent")),
                }
            }
            Expr::BinaryOp { left, op, right } => {
                if matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
                    if scope.type_of_target(left) == Some(PgType::Boolean) {
                        if let Some(b) = bool_literal(right) {
                            **right = b;
                        }
                    } else if scope.type_of_target(right) == Some(PgType::Boolean) {
                        if let Some(b) = bool_literal(left) {
                            **left = b;
                        }
                    }
                }
                Ok(None)
            }
            Expr::InList { expr: e, list, .. } => {
                if scope.type_of_target(e) == Some(PgType::Boolean) {
                    for item in list.iter_mut() {
                        if let Some(b) = bool_literal(item) {
                            *item = b;
                        }
                    }
                }
                Ok(None)
            }
            _ if self.pos.in_query() => Ok(None),
            Expr::Nested(_)
            | Expr::UnaryOp { .. }
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsNotTrue(_)
            | Expr::IsNotFalse(_)
            | Expr::IsDistinctFrom(..)
            | Expr::IsNotDistinctFrom(..)
            | Expr::Between { .. }
            | Expr::Case { .. }
            | Expr::ILike { .. } => Ok(None),
            other => Err(format!("`{other}` has no PostgreSQL translation here")),
        }
    }
}

/// SQLite treats any number as a truth value; PostgreSQL wants booleans in CHECK and WHERE.
pub fn as_condition(expr: Expr, scope: &Scope) -> Result<Expr, String> {
    Ok(match expr {
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right,
        } => Expr::BinaryOp {
            left: Box::new(as_condition(*left, scope)?),
            op,
            right: Box::new(as_condition(*right, scope)?),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(as_condition(*expr, scope)?),
        },
        Expr::Nested(inner) => Expr::Nested(Box::new(as_condition(*inner, scope)?)),
        e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => match scope.type_of_target(&e) {
            Some(PgType::Boolean) | None => e,
            Some(ty) if ty.is_text() => Expr::BinaryOp {
                left: Box::new(cast(e, custom_type("numeric"))),
                op: BinaryOperator::NotEq,
                right: Box::new(pg("0")?),
            },
            Some(_) => Expr::BinaryOp {
                left: Box::new(e),
                op: BinaryOperator::NotEq,
                right: Box::new(pg("0")?),
            },
        },
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Expr::value(Value::Boolean(
                n.parse::<f64>().map(|f| f != 0.0).unwrap_or(true),
            )),
            _ => Expr::Value(v),
        },
        e @ Expr::Function(_) if functions::returns_number(&e) => Expr::BinaryOp {
            left: Box::new(e),
            op: BinaryOperator::NotEq,
            right: Box::new(pg("0")?),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::scope::ScopeColumn;

    fn scope() -> Scope {
        let mut s = Scope::default();
        for (src, target, ty) in [
            ("Email", "email", PgType::Citext),
            ("active", "active", PgType::Boolean),
            ("qty", "qty", PgType::BigInt),
            ("Name", "name", PgType::Text),
            ("born", "born", PgType::Date),
        ] {
            s.columns.insert(
                src.to_ascii_lowercase(),
                ScopeColumn {
                    target: target.into(),
                    ty,
                },
            );
        }
        s
    }

    fn translates_to(sqlite: &str, pos: Position, want: &str) {
        assert_eq!(
            translate(sqlite, &scope(), pos).as_deref(),
            Ok(want),
            "{sqlite}"
        );
    }

    #[test]
    fn a_quote_after_a_backslash_cannot_end_a_string_early() {
        // sqlparser would print `a\'` inside a string unescaped: PostgreSQL would end the
        // string there and run the rest. Such text is refused where it is read.
        assert!(parse_sqlite("x <> 'a\\''; DROP TABLE t; --'").is_err());
        assert!(parse_sqlite("\"we\\\"\"ird\" > 1").is_err());
        assert!(parse_sqlite("x <> 'it''s'").is_ok());
        assert!(checked_output("x <> 1; DROP TABLE t".into()).is_err());
        assert!(checked_output("x <> 1 -- c".into()).is_err());
        assert!(checked_output("x <> 'it''s'".into()).is_ok());
    }

    #[test]
    fn ifnull_becomes_coalesce() {
        translates_to(
            "ifnull(qty, 0) > 1",
            Position::Check,
            "COALESCE(\"qty\", 0) > 1",
        );
    }

    #[test]
    fn instr_becomes_strpos() {
        translates_to(
            "instr([Email], '@') > 0",
            Position::Check,
            "strpos(\"email\", '@') > 0",
        );
    }

    #[test]
    fn like_becomes_ilike_because_sqlite_like_ignores_case() {
        translates_to("Email LIKE '%@%'", Position::Check, "\"email\" ILIKE '%@%'");
    }

    #[test]
    fn boolean_columns_compare_with_true_and_false() {
        translates_to("active = 1", Position::Predicate, "\"active\" = true");
        translates_to(
            "active IN (0, 1)",
            Position::Check,
            "\"active\" IN (false, true)",
        );
    }

    #[test]
    fn bare_integer_columns_become_conditions() {
        translates_to("qty", Position::Predicate, "\"qty\" <> 0");
    }

    #[test]
    fn hex_blobs_become_bytea() {
        translates_to("X'00ff'", Position::Default, "CAST('\\x00ff' AS BYTEA)");
    }

    #[test]
    fn collate_nocase_becomes_citext() {
        translates_to(
            "Name COLLATE NOCASE",
            Position::IndexKey,
            "CAST(\"name\" AS citext)",
        );
    }

    #[test]
    fn iif_becomes_case() {
        translates_to(
            "iif(qty > 0, 'y', 'n')",
            Position::Generated,
            "CASE WHEN \"qty\" > 0 THEN 'y' ELSE 'n' END",
        );
    }

    #[test]
    fn unknown_functions_and_subqueries_are_refused() {
        assert!(translate("typeof(qty) = 'integer'", &scope(), Position::Check).is_err());
        assert!(translate("qty IN (SELECT 1)", &scope(), Position::Check).is_err());
        assert!(translate("nosuch > 1", &scope(), Position::Check).is_err());
    }

    #[test]
    fn group_concat_becomes_string_agg() {
        let mut s = scope();
        s.lenient = true;
        assert_eq!(
            translate("group_concat(Name, '; ')", &s, Position::View).as_deref(),
            Ok("string_agg(CAST(\"name\" AS TEXT), '; ')")
        );
    }

    #[test]
    fn substr_and_length_on_non_text_columns_cast_first() {
        translates_to(
            "length(qty) < 5",
            Position::Check,
            "length(CAST(\"qty\" AS TEXT)) < 5",
        );
        translates_to(
            "SUBSTR(born, 6) = '01-01'",
            Position::Check,
            "SUBSTR(CAST(\"born\" AS TEXT), 6) = '01-01'",
        );
    }
}
