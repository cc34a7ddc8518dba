//! One canonical form for a value, reached from each side by its own road.
//!
//! The SQLite side starts from what the file stores (a storage class and its bytes); the
//! PostgreSQL side from the binary value the server sends back. Neither road goes through
//! the copier's encoder (DESIGN.md rule 6): dates are parsed and counted here again,
//! decimals are normalised from text, julian days are converted with exact integer
//! arithmetic. Each field is written as a tag byte and a payload, so a row's canonical
//! bytes can be hashed and compared column by column.
//!
//! The rules are the issue's: doubles bit for bit (so `-0.0` is not `0`), timestamps to the
//! microsecond, JSON as values, numerics as exact decimals, text and bytes byte for byte,
//! NULL distinct from empty. A source value that has no image in the target type keeps its
//! raw SQLite form, which no PostgreSQL value can equal.

use crate::sqlite::temporal::civil_from_days;
use crate::sqlite::temporal::EpochUnit;

mod decimal;
mod json;
mod postgres;
mod sqlite;

pub use postgres::postgres;
pub use sqlite::sqlite;

/// How values of one target column are compared, from the column's type in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `boolean`
    Bool,
    /// `smallint`, `integer`, `bigint`
    Int,
    /// `real`, `double precision`
    Float,
    /// `numeric`
    Numeric,
    /// `text`, `varchar`, `char`, `citext`, `name`, and any type read as its text
    Text,
    /// `bytea`
    Bytes,
    /// `date`
    Date,
    /// `time`
    Time,
    /// `timetz`
    TimeTz,
    /// `timestamp`
    Timestamp,
    /// `timestamptz`
    TimestampTz,
    /// `jsonb` (binary: a version byte, then text)
    Jsonb,
    /// `json`
    Json,
    /// `uuid`
    Uuid,
    /// `interval`: compared as a number of microseconds (no months)
    Interval,
    /// `inet`, `cidr`: address and prefix length
    Inet,
    /// `character(n)`: text without its blank padding
    Char,
}

impl Kind {
    /// The kind for a PostgreSQL type name (`pg_type.typname`); `None`: read as text.
    pub fn from_typname(name: &str) -> Option<Kind> {
        Some(match name {
            "bool" => Kind::Bool,
            "int2" | "int4" | "int8" => Kind::Int,
            "float4" | "float8" => Kind::Float,
            "numeric" => Kind::Numeric,
            "text" | "varchar" | "citext" | "name" => Kind::Text,
            "bpchar" => Kind::Char,
            "interval" => Kind::Interval,
            "inet" | "cidr" => Kind::Inet,
            "bytea" => Kind::Bytes,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "timetz" => Kind::TimeTz,
            "timestamp" => Kind::Timestamp,
            "timestamptz" => Kind::TimestampTz,
            "jsonb" => Kind::Jsonb,
            "json" => Kind::Json,
            "uuid" => Kind::Uuid,
            _ => return None,
        })
    }
}

/// A column as the comparison sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Col {
    /// How values compare.
    pub kind: Kind,
    /// For integers in a `timestamptz` column (or, when the plan chose epochs, a
    /// `timestamp` or `date` one): the unit the plan chose (`None`: by size).
    pub epoch: Option<EpochUnit>,
    /// For date-times without an offset in a `timestamptz` column: the source's zone the
    /// plan read them in (`None`: such text matches nothing).
    pub naive_zone: Option<crate::plan::SourceZone>,
    /// For numbers in a `numeric` column filled as a framework reads them: its way, and
    /// the column's precision and scale.
    pub decimal: Option<(crate::plan::DecimalReading, Option<(u32, u32)>)>,
    /// Text carried cleaned (`--invalid-text clean`): a NUL byte or invalid UTF-8 in
    /// SQLite compares as its cleaned form.
    pub clean_text: bool,
}

pub(super) const NULL: u8 = 0;

pub(super) const BOOL: u8 = 1;

pub(super) const INT: u8 = 2;

pub(super) const FLOAT: u8 = 3;

pub(super) const DECIMAL: u8 = 4;

pub(super) const TEXT: u8 = 5;

pub(super) const BYTES: u8 = 6;

pub(super) const DATE: u8 = 7;

pub(super) const TIME: u8 = 8;

pub(super) const TIMETZ: u8 = 9;

pub(super) const TIMESTAMP: u8 = 10;

pub(super) const JSON: u8 = 11;

pub(super) const UUID: u8 = 12;

/// A SQLite value with no image in the target type: storage class, then its bytes.
pub(super) const RAW: u8 = 13;

/// A PostgreSQL value this module cannot read (an infinite date, a malformed field).
pub(super) const ODD: u8 = 14;

pub(super) const INTERVAL: u8 = 15;

pub(super) const INET: u8 = 16;

pub(super) const UNIX_TO_PG_DAYS: i64 = 10_957;

pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;

pub(super) fn put_var(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

pub(super) fn put_i64(out: &mut Vec<u8>, tag: u8, v: i64) {
    out.push(tag);
    out.extend_from_slice(&v.to_be_bytes());
}

/// The shortest exact decimal text of a number in any notation (`-0012.50`, `1e-07`),
/// or `None` when it is not a finite decimal. `NaN` stays `NaN`.
pub fn normal_decimal(s: &str) -> Option<String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("nan") {
        return Some("NaN".into());
    }
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // All digits, and where the point falls in them.
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let first = digits.bytes().position(|b| b != b'0');
    let Some(first) = first else {
        return Some("0".into());
    };
    let last = digits.bytes().rposition(|b| b != b'0').unwrap_or(first);
    let sig = &digits[first..=last];
    // Position of the point relative to the first significant digit.
    let point = point - first as i64;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(sig);
    } else if point as usize >= sig.len() {
        out.push_str(sig);
        out.push_str(&"0".repeat(point as usize - sig.len()));
    } else {
        out.push_str(&sig[..point as usize]);
        out.push('.');
        out.push_str(&sig[point as usize..]);
    }
    Some(out)
}

/// One field taken back apart for a report: its canonical bytes shown as JSON.
pub fn display(field: &[u8]) -> serde_json::Value {
    use serde_json::{json, Value};
    let Some((&tag, rest)) = field.split_first() else {
        return Value::Null;
    };
    let var = |r: &[u8]| -> Vec<u8> { r.get(8..).unwrap_or_default().to_vec() };
    let i64_of = |r: &[u8]| -> i64 { r.get(..8).map(be_i64).unwrap_or(0) };
    let text = |b: Vec<u8>| -> Value {
        match String::from_utf8(b) {
            Ok(s) => Value::String(shorten(&s)),
            Err(e) => json!({ "hex": hex(e.as_bytes()) }),
        }
    };
    match tag {
        NULL => Value::Null,
        BOOL => Value::Bool(rest.first() == Some(&1)),
        INT => json!(i64_of(rest)),
        FLOAT => {
            let f = f64::from_bits(i64_of(rest) as u64);
            json!({ "double": format!("{f:?}"), "bits": format!("{:016x}", f.to_bits()) })
        }
        DECIMAL | JSON => text(var(rest)),
        TEXT => text(var(rest)),
        BYTES => Value::String(format!("\\x{}", hex(&var(rest)))),
        DATE => Value::String(civil_from_days(i64_of(rest))),
        TIME => Value::String(clock(i64_of(rest))),
        TIMETZ => {
            let off = rest.get(8..12).map(be_i32).unwrap_or(0);
            Value::String(format!("{}{}", clock(i64_of(rest)), zone(off)))
        }
        TIMESTAMP => {
            let m = i64_of(rest);
            let (days, micros) = (m.div_euclid(MICROS_PER_DAY), m.rem_euclid(MICROS_PER_DAY));
            Value::String(format!("{} {}", civil_from_days(days), clock(micros)))
        }
        UUID => Value::String(
            uuid::Uuid::from_slice(rest)
                .map(|u| u.to_string())
                .unwrap_or_else(|_| hex(rest)),
        ),
        RAW => {
            let class = ["null", "integer", "real", "text", "blob"]
                .get(rest.first().copied().unwrap_or(0) as usize)
                .copied()
                .unwrap_or("?");
            let body = var(&rest[1.min(rest.len())..]);
            let value = match class {
                "integer" => json!(i64_of(&body)),
                "real" => json!(format!("{:?}", f64::from_bits(i64_of(&body) as u64))),
                "text" => text(body),
                _ => Value::String(format!("\\x{}", hex(&body))),
            };
            json!({ "sqlite_storage": class, "value": value, "note": "no exact value of the column's type" })
        }
        _ => json!({ "unreadable": hex(&var(rest)) }),
    }
}

pub(super) fn shorten(s: &str) -> String {
    if s.chars().count() <= 200 {
        return s.to_string();
    }
    let cut: String = s.chars().take(200).collect();
    format!("{cut}… ({} bytes)", s.len())
}

pub(super) fn hex(b: &[u8]) -> String {
    let shown = &b[..b.len().min(100)];
    let mut s: String = shown.iter().map(|x| format!("{x:02x}")).collect();
    if b.len() > shown.len() {
        s.push_str(&format!("… ({} bytes)", b.len()));
    }
    s
}

pub(super) fn clock(micros: i64) -> String {
    let s = micros / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        micros % 1_000_000
    )
}

pub(super) fn zone(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.abs();
    format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
}

/// The integer of a canonical integer field, if it is one.
pub fn int_value(field: &[u8]) -> Option<i64> {
    (field.len() == 9 && field[0] == INT).then(|| be_i64(&field[1..]))
}

/// Splits a row's canonical bytes into its fields.
pub fn fields(mut row: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(&tag) = row.first() {
        let len = match tag {
            NULL => 1,
            BOOL => 2,
            INT | FLOAT | DATE | TIME | TIMESTAMP => 9,
            TIMETZ => 13,
            UUID => 17,
            RAW => {
                let n = row.get(2..10).map(be_i64).unwrap_or(0) as usize;
                10 + n
            }
            _ => {
                let n = row.get(1..9).map(be_i64).unwrap_or(0) as usize;
                9 + n
            }
        };
        let len = len.min(row.len());
        out.push(&row[..len]);
        row = &row[len..];
    }
    out
}

pub(super) fn be_i32(b: &[u8]) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    i32::from_be_bytes(a)
}

pub(super) fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::postgres::numeric_text;
    use super::sqlite::{civil_days, julian_micros};
    use super::*;
    use rusqlite::types::ValueRef;

    fn col(kind: Kind) -> Col {
        Col {
            kind,
            epoch: None,
            naive_zone: None,
            decimal: None,
            clean_text: false,
        }
    }

    fn s(v: ValueRef<'_>, kind: Kind) -> Vec<u8> {
        let mut out = Vec::new();
        sqlite(v, col(kind), &mut out);
        out
    }

    fn p(b: Option<&[u8]>, kind: Kind) -> Vec<u8> {
        let mut out = Vec::new();
        postgres(b, col(kind), &mut out);
        out
    }

    #[test]
    fn doubles_compare_bit_for_bit_and_negative_zero_is_not_zero() {
        let zero = p(Some(&0.0f64.to_bits().to_be_bytes()), Kind::Float);
        assert_eq!(s(ValueRef::Real(0.0), Kind::Float), zero);
        assert_ne!(s(ValueRef::Real(-0.0), Kind::Float), zero);
        let x = 0.1f64 + 0.2;
        let next = f64::from_bits(x.to_bits() + 1);
        assert_ne!(
            s(ValueRef::Real(x), Kind::Float),
            p(Some(&next.to_bits().to_be_bytes()), Kind::Float)
        );
        assert_eq!(
            s(ValueRef::Integer(3), Kind::Float),
            p(Some(&3.0f64.to_bits().to_be_bytes()), Kind::Float)
        );
    }

    #[test]
    fn null_is_not_empty_text() {
        assert_ne!(s(ValueRef::Null, Kind::Text), p(Some(b""), Kind::Text));
        assert_eq!(s(ValueRef::Text(b""), Kind::Text), p(Some(b""), Kind::Text));
        assert_eq!(s(ValueRef::Null, Kind::Text), p(None, Kind::Text));
    }

    #[test]
    fn decimals_normalise_from_any_notation() {
        assert_eq!(normal_decimal("-0012.3400").as_deref(), Some("-12.34"));
        assert_eq!(normal_decimal("1e-07").as_deref(), Some("0.0000001"));
        assert_eq!(normal_decimal("1.5E+3").as_deref(), Some("1500"));
        assert_eq!(normal_decimal("0.000").as_deref(), Some("0"));
        assert_eq!(normal_decimal("12e0").as_deref(), Some("12"));
        assert_eq!(normal_decimal("abc"), None);
        // numeric 12.50 in binary: ndigits 2, weight 0, scale 2: [12][5000]
        let bin = [0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x13, 0x88];
        assert_eq!(
            numeric_text(&bin)
                .and_then(|t| normal_decimal(&t))
                .as_deref(),
            Some("12.5")
        );
        assert_eq!(
            s(ValueRef::Real(12.5), Kind::Numeric),
            p(Some(&bin), Kind::Numeric)
        );
    }

    #[test]
    fn timestamps_match_to_the_microsecond() {
        let pg =
            |micros_since_2000: i64| p(Some(&micros_since_2000.to_be_bytes()), Kind::Timestamp);
        let t = s(
            ValueRef::Text(b"2000-01-01 00:00:01.000001"),
            Kind::Timestamp,
        );
        assert_eq!(t, pg(1_000_001));
        assert_ne!(t, pg(1_000_002));
        assert_eq!(
            s(
                ValueRef::Text(b"2000-01-01T00:00:01.0000010"),
                Kind::Timestamp
            ),
            pg(1_000_001)
        );
        assert_eq!(
            s(ValueRef::Text(b"2000-01-02"), Kind::Timestamp),
            pg(86_400_000_000)
        );
        let tz = |text: &[u8]| s(ValueRef::Text(text), Kind::TimestampTz);
        assert_eq!(tz(b"2000-01-01 05:30:00+05:30"), tz(b"2000-01-01T00:00Z"));
        assert_eq!(tz(b"2000-01-01 00:00:00-0800"), tz(b"2000-01-01 08:00:00Z"));
        assert_eq!(civil_days("1970-01-01"), Some(0));
        assert_eq!(civil_days("2000-01-01"), Some(10_957));
        assert_eq!(civil_days("2024-02-29"), Some(19_782));
        assert_eq!(civil_days("2023-02-29"), None);
        assert_eq!(civil_from_days(19_782), "2024-02-29");
    }

    #[test]
    fn julian_days_convert_exactly() {
        assert_eq!(julian_micros(2_440_587.5), Some(0));
        assert_eq!(julian_micros(2_440_588.0), Some(43_200_000_000));
        assert_eq!(julian_micros(2_440_587.25), Some(-21_600_000_000));
    }

    #[test]
    fn a_value_with_no_image_in_the_column_type_matches_nothing() {
        let nul = s(ValueRef::Text(b"a\0b"), Kind::Text);
        assert_ne!(nul, p(Some(b"ab"), Kind::Text));
        assert_ne!(
            s(ValueRef::Text(b"x"), Kind::Int),
            p(Some(&0i64.to_be_bytes()), Kind::Int)
        );
        assert_eq!(fields(&nul).len(), 1);
    }

    #[test]
    fn rows_split_back_into_fields_for_reports() {
        let mut row = Vec::new();
        sqlite(ValueRef::Integer(7), col(Kind::Int), &mut row);
        sqlite(ValueRef::Null, col(Kind::Text), &mut row);
        sqlite(ValueRef::Text(b"hi"), col(Kind::Text), &mut row);
        sqlite(ValueRef::Blob(&[1, 2]), col(Kind::Bytes), &mut row);
        let f = fields(&row);
        assert_eq!(f.len(), 4);
        assert_eq!(display(f[0]), serde_json::json!(7));
        assert_eq!(display(f[1]), serde_json::Value::Null);
        assert_eq!(display(f[2]), serde_json::json!("hi"));
        assert_eq!(display(f[3]), serde_json::json!("\\x0102"));
    }

    #[test]
    fn durations_compare_as_microseconds_however_each_side_writes_them() {
        let pg = |micros: i64, days: i32, months: i32| {
            let mut b = micros.to_be_bytes().to_vec();
            b.extend_from_slice(&days.to_be_bytes());
            b.extend_from_slice(&months.to_be_bytes());
            p(Some(&b), Kind::Interval)
        };
        let day_and_two_hours = pg(7_200_000_000, 1, 0);
        assert_eq!(day_and_two_hours, pg(93_600_000_000, 0, 0));
        assert_eq!(
            s(ValueRef::Integer(93_600_000_000), Kind::Interval),
            day_and_two_hours
        );
        assert_eq!(
            s(ValueRef::Text(b"P1DT2H"), Kind::Interval),
            day_and_two_hours
        );
        assert_eq!(
            s(ValueRef::Text(b"1970-01-02 02:00:00"), Kind::Interval),
            day_and_two_hours
        );
        // A month has no length in microseconds: it equals nothing SQLite holds.
        assert_ne!(
            pg(0, 0, 1),
            s(ValueRef::Integer(2_592_000_000_000), Kind::Interval)
        );
        assert_ne!(s(ValueRef::Integer(1), Kind::Interval), day_and_two_hours);
    }

    #[test]
    fn addresses_compare_by_bytes_and_prefix_and_char_ignores_padding() {
        let pg_inet = p(Some(&[2, 32, 0, 4, 192, 168, 0, 1]), Kind::Inet);
        assert_eq!(s(ValueRef::Text(b"192.168.0.1"), Kind::Inet), pg_inet);
        assert_eq!(s(ValueRef::Text(b"192.168.0.1/32"), Kind::Inet), pg_inet);
        assert_ne!(s(ValueRef::Text(b"192.168.0.1/24"), Kind::Inet), pg_inet);
        assert_eq!(
            p(Some(b"ab  "), Kind::Char),
            s(ValueRef::Text(b"ab"), Kind::Char)
        );
        assert_ne!(
            p(Some(b"ab  "), Kind::Char),
            s(ValueRef::Text(b"a"), Kind::Char)
        );
    }

    #[test]
    fn naive_date_times_match_a_timestamptz_only_at_the_offset_the_plan_read_them() {
        let at = |offset: Option<i32>| {
            let mut out = Vec::new();
            sqlite(
                ValueRef::Text(b"2000-01-01 02:00:00"),
                Col {
                    kind: Kind::TimestampTz,
                    epoch: None,
                    naive_zone: offset.map(crate::plan::SourceZone::Offset),
                    decimal: None,
                    clean_text: false,
                },
                &mut out,
            );
            out
        };
        let pg_two_utc = p(Some(&7_200_000_000i64.to_be_bytes()), Kind::TimestampTz);
        let pg_midnight_utc = p(Some(&0i64.to_be_bytes()), Kind::TimestampTz);
        assert_eq!(at(Some(0)), pg_two_utc);
        assert_eq!(at(Some(7200)), pg_midnight_utc);
        assert_ne!(at(None), pg_two_utc);
    }
}
