//! Column DEFAULTs: literals in every SQLite spelling, the "now" family, expressions.
//!
//! A default must produce a value of the column's new type, so literals are re-typed here
//! (0/1 for booleans, epoch numbers for converted timestamp columns, text for dates) and
//! the current-time family is chosen to match what SQLite would have stored.

use sqlparser::ast::{Expr, UnaryOperator, Value};

use super::expr::{parse_sqlite, translate};
use super::scope::{Position, Scope};
use crate::pg::quote_literal;
use crate::plan::{Conversion, PgType};
use crate::sqlite::profile::is_uuid_text;
use crate::sqlite::temporal::{self, EpochUnit};

fn strip(e: Expr) -> Expr {
    match e {
        Expr::Nested(inner) => strip(*inner),
        other => other,
    }
}

enum Literal {
    Null,
    Number(String),
    Text(String),
    Blob(String),
    Bool(bool),
}

fn literal(e: &Expr) -> Option<Literal> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Literal::Null),
            Value::Number(n, _) => Some(Literal::Number(n.clone())),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Some(Literal::Text(s.clone()))
            }
            Value::HexStringLiteral(h) => Some(Literal::Blob(h.clone())),
            Value::Boolean(b) => Some(Literal::Bool(*b)),
            _ => None,
        },
        Expr::Identifier(id) if id.quote_style.is_some() => Some(Literal::Text(id.value.clone())),
        Expr::Identifier(id) if id.value.eq_ignore_ascii_case("true") => Some(Literal::Bool(true)),
        Expr::Identifier(id) if id.value.eq_ignore_ascii_case("false") => {
            Some(Literal::Bool(false))
        }
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(&strip((**expr).clone()))? {
            Literal::Number(n) => Some(Literal::Number(format!("-{n}"))),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => literal(&strip((**expr).clone())),
        _ => None,
    }
}

/// Which current-time value a default asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Now {
    Timestamp,
    /// A date-time with milliseconds (`strftime('%Y-%m-%d %H:%M:%f', 'now')`).
    TimestampMillis,
    Date,
    Time,
    Epoch,
    /// `julianday('now')`.
    Julian,
}

fn now_kind(e: &Expr) -> Option<Now> {
    let text = e.to_string().to_ascii_lowercase().replace(' ', "");
    match text.as_str() {
        "current_timestamp" | "datetime('now')" | "datetime('now','utc')" => Some(Now::Timestamp),
        "current_date" | "date('now')" => Some(Now::Date),
        "current_time" | "time('now')" => Some(Now::Time),
        "strftime('%s','now')" | "unixepoch()" | "unixepoch('now')" => Some(Now::Epoch),
        "julianday('now')" => Some(Now::Julian),
        _ => strftime_now(&text),
    }
}

/// `strftime(format, 'now')` with a format that spells a date-time, date or time the way
/// PostgreSQL's types read them (`T` or space, an optional `Z`); other formats are text.
fn strftime_now(text: &str) -> Option<Now> {
    let format = text
        .strip_prefix("strftime('")?
        .strip_suffix("','now')")?
        .trim_end_matches('z');
    Some(match format {
        "%y-%m-%d%h:%m:%s" | "%y-%m-%dt%h:%m:%s" => Now::Timestamp,
        "%y-%m-%d%h:%m:%f" | "%y-%m-%dt%h:%m:%f" => Now::TimestampMillis,
        "%y-%m-%d" => Now::Date,
        "%h:%m:%s" => Now::Time,
        _ => return None,
    })
}

fn now_default(kind: Now, ty: PgType) -> Option<String> {
    let utc = "(now() AT TIME ZONE 'UTC')";
    Some(match (kind, ty) {
        (Now::Timestamp | Now::Epoch, PgType::Timestamp) => {
            format!("date_trunc('second', {utc})")
        }
        (Now::TimestampMillis | Now::Julian, PgType::Timestamp) => {
            format!("date_trunc('milliseconds', {utc})")
        }
        (Now::Timestamp | Now::Epoch, PgType::TimestampTz) => "date_trunc('second', now())".into(),
        (Now::TimestampMillis | Now::Julian, PgType::TimestampTz) => {
            "date_trunc('milliseconds', now())".into()
        }
        (Now::TimestampMillis | Now::Julian, PgType::Date) => format!("CAST({utc} AS date)"),
        (Now::TimestampMillis, t) if t.is_text() => {
            return None;
        }
        (Now::Julian, PgType::Double) => {
            "CAST(extract(epoch FROM now()) / 86400.0 + 2440587.5 AS double precision)".into()
        }
        (Now::Timestamp, PgType::Date) | (Now::Date, PgType::Date | PgType::Timestamp) => {
            format!("CAST({utc} AS date)")
        }
        (Now::Time, PgType::Time) => format!("CAST(date_trunc('second', {utc}) AS time)"),
        (Now::Timestamp, t) if t.is_text() => format!("to_char({utc}, 'YYYY-MM-DD HH24:MI:SS')"),
        (Now::Date, t) if t.is_text() => format!("to_char({utc}, 'YYYY-MM-DD')"),
        (Now::Time, t) if t.is_text() => format!("to_char({utc}, 'HH24:MI:SS')"),
        (Now::Epoch, t) if t.is_integer() || matches!(t, PgType::Numeric(_) | PgType::Double) => {
            "CAST(floor(extract(epoch FROM now())) AS bigint)".into()
        }
        (Now::Epoch, t) if t.is_text() => {
            "CAST(CAST(floor(extract(epoch FROM now())) AS bigint) AS text)".into()
        }
        _ => return None,
    })
}

/// Translates a default for a column of type `ty`; `Ok(None)` means no default.
pub fn translate_default(
    sql: &str,
    ty: PgType,
    conv: Conversion,
    scope: &Scope,
) -> Result<Option<String>, String> {
    let e = strip(parse_sqlite(sql)?);
    // strftime into text keeps its own format (`T`, `Z`): the general translation.
    let formatted = e.to_string().to_ascii_lowercase().starts_with("strftime") && ty.is_text();
    if let Some(kind) = now_kind(&e).filter(|_| !formatted) {
        match now_default(kind, ty) {
            Some(d) => return Ok(Some(d)),
            // strftime and julianday keep their general translation (text as formatted,
            // a double): a column of another type is PostgreSQL's to judge.
            None if matches!(kind, Now::TimestampMillis | Now::Julian) => {}
            None => {
                return Err(format!(
                    "current-time default `{sql}` does not fit a {ty} column"
                ))
            }
        }
    }
    let Some(lit) = literal(&e) else {
        return translate(sql, scope, Position::Default).map(|s| Some(format!("({s})")));
    };
    let bad = || format!("default {sql} cannot be stored in a {ty} column");
    let out = match lit {
        Literal::Null => return Ok(None),
        Literal::Bool(b) => match ty {
            PgType::Boolean => b.to_string(),
            t if t.is_integer() || matches!(t, PgType::Numeric(_) | PgType::Double) => {
                u8::from(b).to_string()
            }
            t if t.is_text() => quote_literal(if b { "1" } else { "0" }),
            _ => return Err(bad()),
        },
        Literal::Number(n) => match ty {
            PgType::Boolean if n == "0" => "false".into(),
            PgType::Boolean if n == "1" => "true".into(),
            t if t.is_integer() && n.parse::<i64>().is_ok() => n,
            PgType::Numeric(_) | PgType::Double if n.parse::<f64>().is_ok() => n,
            t if t.is_text() => quote_literal(&n),
            PgType::Jsonb => quote_literal(&n),
            PgType::TimestampTz => match (conv, n.parse::<i64>()) {
                (Conversion::Epoch { unit }, Ok(v)) => {
                    let div = match unit {
                        EpochUnit::Seconds => "",
                        EpochUnit::Millis => " / 1000.0",
                        EpochUnit::Micros => " / 1000000.0",
                    };
                    format!("to_timestamp({v}{div})")
                }
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        },
        Literal::Text(s) => match ty {
            t if t.is_text() => quote_literal(&s),
            PgType::Boolean => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "y" | "yes" | "on" | "1" => "true".into(),
                "f" | "false" | "n" | "no" | "off" | "0" => "false".into(),
                _ => return Err(bad()),
            },
            t if t.is_integer() && s.trim().parse::<i64>().is_ok() => s.trim().to_string(),
            PgType::Numeric(_) | PgType::Double
                if s.trim().parse::<f64>().is_ok_and(f64::is_finite) =>
            {
                s.trim().to_string()
            }
            PgType::Date
            | PgType::Time
            | PgType::TimeTz
            | PgType::Timestamp
            | PgType::TimestampTz
                if temporal::text_shape(&s).is_some() =>
            {
                quote_literal(&s)
            }
            PgType::Jsonb if serde_json::from_str::<serde::de::IgnoredAny>(&s).is_ok() => {
                quote_literal(&s)
            }
            PgType::Uuid if is_uuid_text(&s) => quote_literal(&s),
            PgType::Bytea => format!("convert_to({}, 'UTF8')", quote_literal(&s)),
            _ => return Err(bad()),
        },
        Literal::Blob(h) => match ty {
            PgType::Bytea => format!("'\\x{h}'::bytea"),
            PgType::Uuid if h.len() == 32 => quote_literal(&h),
            _ => return Err(bad()),
        },
    };
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sql: &str, ty: PgType) -> Result<Option<String>, String> {
        translate_default(sql, ty, Conversion::AsIs, &Scope::default())
    }

    #[test]
    fn literals_in_every_sqlite_spelling() {
        assert_eq!(d("0", PgType::Boolean).unwrap().as_deref(), Some("false"));
        assert_eq!(
            d("'yes'", PgType::Boolean).unwrap().as_deref(),
            Some("true")
        );
        assert_eq!(d("\"\"", PgType::Text).unwrap().as_deref(), Some("''"));
        assert_eq!(d("-1", PgType::BigInt).unwrap().as_deref(), Some("-1"));
        assert_eq!(d("(0.5)", PgType::Double).unwrap().as_deref(), Some("0.5"));
        assert_eq!(
            d("X'0A'", PgType::Bytea).unwrap().as_deref(),
            Some("'\\x0A'::bytea")
        );
        assert_eq!(d("NULL", PgType::Text).unwrap(), None);
        assert_eq!(
            d("'it''s'", PgType::Text).unwrap().as_deref(),
            Some("'it''s'")
        );
        assert!(d("'abc'", PgType::BigInt).is_err());
    }

    #[test]
    fn current_time_defaults_follow_the_column_type() {
        assert_eq!(
            d("CURRENT_TIMESTAMP", PgType::Timestamp)
                .unwrap()
                .as_deref(),
            Some("date_trunc('second', (now() AT TIME ZONE 'UTC'))")
        );
        assert_eq!(
            d("(datetime('now'))", PgType::Text).unwrap().as_deref(),
            Some("to_char((now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS')")
        );
        assert_eq!(
            d("(strftime('%s','now'))", PgType::BigInt)
                .unwrap()
                .as_deref(),
            Some("CAST(floor(extract(epoch FROM now())) AS bigint)")
        );
    }

    #[test]
    fn strftime_and_julianday_defaults_are_typed_for_their_column() {
        let ms = "(strftime('%Y-%m-%d %H:%M:%f', 'now'))";
        assert_eq!(
            d(ms, PgType::Timestamp).unwrap().as_deref(),
            Some("date_trunc('milliseconds', (now() AT TIME ZONE 'UTC'))")
        );
        assert_eq!(
            d(ms, PgType::TimestampTz).unwrap().as_deref(),
            Some("date_trunc('milliseconds', now())")
        );
        assert_eq!(
            d("strftime('%Y-%m-%dT%H:%M:%SZ','now')", PgType::Timestamp)
                .unwrap()
                .as_deref(),
            Some("date_trunc('second', (now() AT TIME ZONE 'UTC'))")
        );
        assert_eq!(
            d("(strftime('%Y-%m-%d','now'))", PgType::Date)
                .unwrap()
                .as_deref(),
            Some("CAST((now() AT TIME ZONE 'UTC') AS date)")
        );
        assert_eq!(
            d("julianday('now')", PgType::TimestampTz)
                .unwrap()
                .as_deref(),
            Some("date_trunc('milliseconds', now())")
        );
        // Into text, strftime keeps its own format.
        assert_eq!(
            d("strftime('%Y-%m-%dT%H:%M:%SZ','now')", PgType::Text)
                .unwrap()
                .as_deref(),
            Some("(to_char((now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))")
        );
    }
}
