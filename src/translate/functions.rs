//! SQLite (and stray MySQL) functions mapped to PostgreSQL equivalents.
//!
//! Only functions with a faithful counterpart are mapped; the rest make the expression
//! untranslatable, which the caller reports with the original SQL.

use sqlparser::ast::{
    DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    Value,
};

use super::scope::{cast, pg, Scope};
use crate::plan::PgType;

/// SQLite's `'now'` as UTC in PostgreSQL.
const NOW_UTC: &str = "(now() AT TIME ZONE 'UTC')";

fn name_of(f: &Function) -> String {
    f.name.to_string().trim_matches('"').to_ascii_lowercase()
}

fn rename(f: &mut Function, to: &str) {
    f.name = ObjectName::from(vec![Ident::new(to)]);
}

/// Positional arguments, when the call is a plain list (no DISTINCT, no ORDER BY, ...).
fn plain_args(f: &Function) -> Option<Vec<Expr>> {
    match &f.args {
        FunctionArguments::None => Some(vec![]),
        FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

fn is_now(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(&v.value, Value::SingleQuotedString(s) if s.eq_ignore_ascii_case("now")))
}

fn string_arg(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn negative_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            ..
        }
    )
}

/// Wraps a column of a non-text type in a cast so text functions accept it.
pub fn as_text(e: Expr, scope: &Scope) -> Expr {
    match scope.type_of_target(&e) {
        Some(ty) if !ty.is_text() && ty != PgType::Bytea => cast(e, DataType::Text),
        _ => e,
    }
}

/// Maps a strftime format to a to_char pattern, quoting literal text.
fn to_char_format(fmt: &str) -> Option<String> {
    let mut out = String::new();
    let mut literal = String::new();
    let mut chars = fmt.chars();
    let flush = |out: &mut String, literal: &mut String| {
        if !literal.is_empty() {
            out.push('"');
            out.push_str(&literal.replace('"', "\\\""));
            out.push('"');
            literal.clear();
        }
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            if c == '-' || c == ':' || c == ' ' || c == '/' || c == '.' {
                flush(&mut out, &mut literal);
                out.push(c);
            } else {
                literal.push(c);
            }
            continue;
        }
        flush(&mut out, &mut literal);
        let pat = match chars.next()? {
            'Y' => "YYYY",
            'm' => "MM",
            'd' => "DD",
            'H' => "HH24",
            'M' => "MI",
            'S' => "SS",
            'f' => "SS.MS",
            'j' => "DDD",
            '%' => "%",
            _ => return None,
        };
        out.push_str(pat);
    }
    flush(&mut out, &mut literal);
    Some(out.replace('\'', "''"))
}

/// `date('now')`, `datetime('now')`, `strftime(fmt, 'now')`, ... as PostgreSQL.
fn now_function(name: &str, args: &[Expr]) -> Result<Expr, String> {
    let text = |fmt: &str| pg(&format!("to_char({NOW_UTC}, '{fmt}')"));
    match (name, args) {
        ("datetime" | "current_timestamp", [a]) if is_now(a) => text("YYYY-MM-DD HH24:MI:SS"),
        ("current_timestamp", []) => text("YYYY-MM-DD HH24:MI:SS"),
        ("date", [a]) if is_now(a) => text("YYYY-MM-DD"),
        ("current_date", []) => text("YYYY-MM-DD"),
        ("time", [a]) if is_now(a) => text("HH24:MI:SS"),
        ("current_time", []) => text("HH24:MI:SS"),
        ("unixepoch", []) => pg("CAST(floor(extract(epoch FROM now())) AS BIGINT)"),
        ("unixepoch", [a]) if is_now(a) => pg("CAST(floor(extract(epoch FROM now())) AS BIGINT)"),
        ("julianday", [a]) if is_now(a) => pg("CAST(extract(epoch FROM now()) / 86400.0 + 2440587.5 AS DOUBLE PRECISION)"),
        ("strftime", [f, a]) if is_now(a) => match string_arg(f) {
            Some("%s") => pg("CAST(CAST(floor(extract(epoch FROM now())) AS BIGINT) AS TEXT)"),
            Some(fmt) => match to_char_format(fmt) {
                Some(p) => text(&p),
                None => Err(format!("strftime format '{fmt}' has no to_char equivalent")),
            },
            None => Err("strftime with a computed format".into()),
        },
        _ => Err(format!(
            "{name}() is translated only for 'now'; date arithmetic on stored values needs a manual rewrite"
        )),
    }
}

/// Rewrites one function call; `Ok(None)` keeps it as it is (possibly renamed in place).
pub fn rewrite(f: &mut Function, scope: &Scope) -> Result<Option<Expr>, String> {
    let name = name_of(f);
    let args = plain_args(f);
    let list = || {
        args.clone()
            .ok_or_else(|| format!("{name}() with DISTINCT, ORDER BY or named arguments"))
    };
    let show = |e: &Expr| e.to_string();
    match name.as_str() {
        "abs" | "coalesce" | "nullif" | "lower" | "upper" | "ltrim" | "rtrim" | "replace"
        | "count" | "sum" | "avg" | "concat" => Ok(None),
        "ifnull" => {
            rename(f, "COALESCE");
            Ok(None)
        }
        "instr" => {
            let a = list()?;
            match a.as_slice() {
                [h, n] => Ok(Some(pg(&format!(
                    "strpos({}, {})",
                    show(&as_text(h.clone(), scope)),
                    show(n)
                ))?)),
                _ => Err("instr() takes two arguments".into()),
            }
        }
        "lcase" => {
            rename(f, "lower");
            Ok(None)
        }
        "ucase" => {
            rename(f, "upper");
            Ok(None)
        }
        "unicode" => {
            rename(f, "ascii");
            Ok(None)
        }
        "trim" => match list()?.as_slice() {
            [_] => Ok(None),
            [a, b] => Ok(Some(pg(&format!("btrim({}, {})", show(a), show(b)))?)),
            _ => Err("trim() takes one or two arguments".into()),
        },
        "length" => match list()?.as_slice() {
            [a] => Ok(Some(pg(&format!(
                "length({})",
                show(&as_text(a.clone(), scope))
            ))?)),
            _ => Err("length() takes one argument".into()),
        },
        "substr" | "substring" => {
            let a = list()?;
            if a.len() < 2 || a.len() > 3 {
                return Err("substr() takes two or three arguments".into());
            }
            if negative_literal(&a[1]) {
                return Err("substr() with a negative start counts from the end in SQLite but not in PostgreSQL".into());
            }
            let rest: Vec<String> = a[1..].iter().map(show).collect();
            Ok(Some(pg(&format!(
                "substr({}, {})",
                show(&as_text(a[0].clone(), scope)),
                rest.join(", ")
            ))?))
        }
        "round" => match list()?.as_slice() {
            [_] => Ok(None),
            [a, n] => Ok(Some(pg(&format!(
                "round(CAST({} AS NUMERIC), {})",
                show(a),
                show(n)
            ))?)),
            _ => Err("round() takes one or two arguments".into()),
        },
        "min" | "max" => match &f.args {
            FunctionArguments::List(l) if l.args.len() >= 2 => {
                let a = list()?;
                let parts: Vec<String> = a.iter().map(show).collect();
                let to = if name == "min" { "LEAST" } else { "GREATEST" };
                Ok(Some(pg(&format!("{to}({})", parts.join(", ")))?))
            }
            _ => Ok(None),
        },
        "group_concat" => {
            let (distinct, items) = match &f.args {
                FunctionArguments::List(l) if l.clauses.is_empty() => (
                    l.duplicate_treatment.is_some(),
                    l.args
                        .iter()
                        .map(|a| match a {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                            _ => Err("group_concat() with named arguments".to_string()),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => return Err("group_concat() with ORDER BY".into()),
            };
            let sep = match items.get(1) {
                Some(s) => show(s),
                None => "','".into(),
            };
            let first = items.first().ok_or("group_concat() needs an argument")?;
            let d = if distinct { "DISTINCT " } else { "" };
            Ok(Some(pg(&format!(
                "string_agg({d}CAST({} AS TEXT), {sep})",
                show(first)
            ))?))
        }
        "iif" | "if" => match list()?.as_slice() {
            [c, a, b] => Ok(Some(pg(&format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                show(c),
                show(a),
                show(b)
            ))?)),
            _ => Err(format!("{name}() takes three arguments")),
        },
        "likely" | "unlikely" => match list()?.as_slice() {
            [a] => Ok(Some(a.clone())),
            _ => Err(format!("{name}() takes one argument")),
        },
        "date" | "time" | "datetime" | "strftime" | "unixepoch" | "julianday"
        | "current_timestamp" | "current_date" | "current_time" => {
            now_function(&name, &list()?).map(Some)
        }
        _ => Err(format!("function {name}() has no PostgreSQL translation")),
    }
}

/// True for calls that return a number SQLite would read as a truth value.
pub fn returns_number(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => matches!(
            name_of(f).as_str(),
            "strpos" | "length" | "abs" | "count" | "ascii" | "sum"
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_formats_map_to_to_char_with_literals_quoted() {
        assert_eq!(
            to_char_format("%Y-%m-%dT%H:%M:%S").as_deref(),
            Some("YYYY-MM-DD\"T\"HH24:MI:SS")
        );
        assert_eq!(to_char_format("%w"), None);
    }
}
