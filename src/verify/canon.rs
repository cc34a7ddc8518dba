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

use rusqlite::types::ValueRef;

use crate::sqlite::temporal::civil_from_days;
use crate::sqlite::temporal::EpochUnit;

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
}

impl Kind {
    /// The kind for a PostgreSQL type name (`pg_type.typname`); `None`: read as text.
    pub fn from_typname(name: &str) -> Option<Kind> {
        Some(match name {
            "bool" => Kind::Bool,
            "int2" | "int4" | "int8" => Kind::Int,
            "float4" | "float8" => Kind::Float,
            "numeric" => Kind::Numeric,
            "text" | "varchar" | "bpchar" | "citext" | "name" => Kind::Text,
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
#[derive(Debug, Clone, Copy)]
pub struct Col {
    /// How values compare.
    pub kind: Kind,
    /// For integers in a `timestamptz` column: the unit the plan chose (`None`: by size).
    pub epoch: Option<EpochUnit>,
}

const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const DECIMAL: u8 = 4;
const TEXT: u8 = 5;
const BYTES: u8 = 6;
const DATE: u8 = 7;
const TIME: u8 = 8;
const TIMETZ: u8 = 9;
const TIMESTAMP: u8 = 10;
const JSON: u8 = 11;
const UUID: u8 = 12;
/// A SQLite value with no image in the target type: storage class, then its bytes.
const RAW: u8 = 13;
/// A PostgreSQL value this module cannot read (an infinite date, a malformed field).
const ODD: u8 = 14;

const UNIX_TO_PG_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn put_var(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_i64(out: &mut Vec<u8>, tag: u8, v: i64) {
    out.push(tag);
    out.extend_from_slice(&v.to_be_bytes());
}

fn raw(out: &mut Vec<u8>, v: ValueRef<'_>) {
    let (class, bytes): (u8, Vec<u8>) = match v {
        ValueRef::Null => (0, Vec::new()),
        ValueRef::Integer(i) => (1, i.to_be_bytes().to_vec()),
        ValueRef::Real(f) => (2, f.to_bits().to_be_bytes().to_vec()),
        ValueRef::Text(t) => (3, t.to_vec()),
        ValueRef::Blob(b) => (4, b.to_vec()),
    };
    out.push(RAW);
    out.push(class);
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(&bytes);
}

/// The decimal text of a number as a text column carries it: integers in decimal, doubles
/// as the shortest text that reads back to the same bits (docs/type-mapping.md).
fn number_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) if f.is_nan() => Some("NaN".into()),
        ValueRef::Real(f) if f.is_infinite() => {
            Some(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        ValueRef::Real(f) => Some(format!("{f:?}")),
        _ => None,
    }
}

/// Appends the canonical form of a SQLite value for a column of `col`'s type.
pub fn sqlite(v: ValueRef<'_>, col: Col, out: &mut Vec<u8>) {
    if let ValueRef::Null = v {
        out.push(NULL);
        return;
    }
    let done = match col.kind {
        Kind::Bool => match v {
            ValueRef::Integer(i @ (0 | 1)) => {
                out.extend_from_slice(&[BOOL, i as u8]);
                true
            }
            ValueRef::Text(t) => match std::str::from_utf8(t).ok().and_then(bool_spelling) {
                Some(b) => {
                    out.extend_from_slice(&[BOOL, u8::from(b)]);
                    true
                }
                None => false,
            },
            _ => false,
        },
        Kind::Int => match v {
            ValueRef::Integer(i) => {
                put_i64(out, INT, i);
                true
            }
            ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                put_i64(out, INT, f as i64);
                true
            }
            _ => false,
        },
        Kind::Float => match v {
            ValueRef::Real(f) => {
                put_i64(out, FLOAT, f.to_bits() as i64);
                true
            }
            ValueRef::Integer(i) if i.unsigned_abs() <= 1 << 53 => {
                put_i64(out, FLOAT, (i as f64).to_bits() as i64);
                true
            }
            _ => false,
        },
        Kind::Numeric => match v {
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                match number_text(v).and_then(|s| normal_decimal(&s)) {
                    Some(d) => {
                        put_var(out, DECIMAL, d.as_bytes());
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        },
        Kind::Text => match v {
            ValueRef::Text(t) => {
                put_var(out, TEXT, t);
                true
            }
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                put_var(out, TEXT, number_text(v).unwrap_or_default().as_bytes());
                true
            }
            _ => false,
        },
        Kind::Bytes => match v {
            ValueRef::Blob(b) | ValueRef::Text(b) => {
                put_var(out, BYTES, b);
                true
            }
            _ => match number_text(v) {
                Some(s) => {
                    put_var(out, BYTES, s.as_bytes());
                    true
                }
                None => false,
            },
        },
        Kind::Jsonb | Kind::Json => {
            let text = match v {
                ValueRef::Text(t) => std::str::from_utf8(t).ok().map(str::to_string),
                ValueRef::Integer(_) | ValueRef::Real(_) => number_text(v),
                _ => None,
            };
            match text.as_deref().and_then(canonical_json) {
                Some(j) => {
                    put_var(out, JSON, j.as_bytes());
                    true
                }
                None => false,
            }
        }
        Kind::Uuid => {
            let bytes = match v {
                ValueRef::Blob(b) if b.len() == 16 => Some(b.to_vec()),
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| uuid::Uuid::try_parse(s.trim()).ok())
                    .map(|u| u.as_bytes().to_vec()),
                _ => None,
            };
            match bytes {
                Some(b) => {
                    out.push(UUID);
                    out.extend_from_slice(&b);
                    true
                }
                None => false,
            }
        }
        Kind::Date | Kind::Time | Kind::TimeTz | Kind::Timestamp | Kind::TimestampTz => {
            temporal_sqlite(v, col, out)
        }
    };
    if !done {
        raw(out, v);
    }
}

fn bool_spelling(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn temporal_sqlite(v: ValueRef<'_>, col: Col, out: &mut Vec<u8>) -> bool {
    match v {
        ValueRef::Text(t) => {
            let Some(p) = std::str::from_utf8(t).ok().and_then(Iso::parse) else {
                return false;
            };
            match (col.kind, p.date, p.offset) {
                (Kind::Date, Some(days), None) if p.micros.is_none() => {
                    put_i64(out, DATE, days);
                    true
                }
                (Kind::Time, None, None) => {
                    put_i64(out, TIME, p.micros.unwrap_or(0));
                    true
                }
                (Kind::TimeTz, None, Some(off)) => {
                    put_i64(out, TIMETZ, p.micros.unwrap_or(0));
                    out.extend_from_slice(&off.to_be_bytes());
                    true
                }
                (Kind::Timestamp, Some(days), None) => {
                    put_i64(
                        out,
                        TIMESTAMP,
                        days * MICROS_PER_DAY + p.micros.unwrap_or(0),
                    );
                    true
                }
                (Kind::TimestampTz, Some(days), Some(off)) if p.micros.is_some() => {
                    let local = days * MICROS_PER_DAY + p.micros.unwrap_or(0);
                    put_i64(out, TIMESTAMP, local - i64::from(off) * 1_000_000);
                    true
                }
                _ => false,
            }
        }
        ValueRef::Integer(i) if col.kind == Kind::TimestampTz => {
            let unit = col.epoch.or(match i {
                0..=99_999_999_999 => Some(EpochUnit::Seconds),
                100_000_000_000..=99_999_999_999_999 => Some(EpochUnit::Millis),
                100_000_000_000_000..=99_999_999_999_999_999 => Some(EpochUnit::Micros),
                _ => None,
            });
            let micros = match unit {
                Some(EpochUnit::Seconds) => i.checked_mul(1_000_000),
                Some(EpochUnit::Millis) => i.checked_mul(1_000),
                Some(EpochUnit::Micros) => Some(i),
                None => None,
            };
            match micros {
                Some(m) => {
                    put_i64(out, TIMESTAMP, m);
                    true
                }
                None => false,
            }
        }
        ValueRef::Real(jd) if col.kind == Kind::TimestampTz => match julian_micros(jd) {
            Some(m) => {
                put_i64(out, TIMESTAMP, m);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Microseconds since 1970 of a julian day number, rounded to nearest by exact integer
/// arithmetic on the double's bits (not by a floating-point product).
fn julian_micros(jd: f64) -> Option<i64> {
    if !jd.is_finite() || !(1_721_425.5..=5_373_484.5).contains(&jd) {
        return None;
    }
    // Exact: both are multiples of 2^-30 well inside the double's 53 bits here.
    let d = jd - 2_440_587.5;
    if d == 0.0 {
        return Some(0);
    }
    let bits = d.to_bits();
    let negative = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = if exp == 0 {
        (bits & ((1 << 52) - 1)) as i128
    } else {
        ((bits & ((1 << 52) - 1)) | (1 << 52)) as i128
    };
    let shift = exp.max(1) - 1075;
    let product = mantissa * 86_400_000_000i128;
    let micros = if shift >= 0 {
        product << shift
    } else {
        let div = 1i128 << (-shift).min(126);
        (product + div / 2) / div
    };
    let micros = i64::try_from(micros).ok()?;
    Some(if negative { -micros } else { micros })
}

/// An ISO-8601 date and/or time, taken apart by this module's own reading.
#[derive(Debug, PartialEq, Eq)]
struct Iso {
    /// Days since 1970-01-01.
    date: Option<i64>,
    /// Microseconds since midnight.
    micros: Option<i64>,
    /// Seconds east of UTC.
    offset: Option<i32>,
}

impl Iso {
    fn parse(s: &str) -> Option<Iso> {
        let (date, rest) = match s.get(..10) {
            Some(d) if s.len() >= 10 && d.as_bytes()[4] == b'-' => {
                let rest = &s[10..];
                let rest = match rest.as_bytes().first() {
                    None => "",
                    Some(b' ' | b'T') => &rest[1..],
                    Some(_) => return None,
                };
                if rest.is_empty() && s.len() > 10 {
                    return None;
                }
                (Some(civil_days(d)?), rest)
            }
            _ => (None, s),
        };
        if rest.is_empty() {
            return date.map(|d| Iso {
                date: Some(d),
                micros: None,
                offset: None,
            });
        }
        // The time runs up to the offset, if any.
        let split = rest
            .char_indices()
            .find(|(_, c)| matches!(c, 'Z' | 'z' | '+' | '-'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(split);
        let micros = clock_micros(clock)?;
        let offset = if zone.is_empty() {
            None
        } else {
            Some(zone_seconds(zone)?)
        };
        Some(Iso {
            date,
            micros: Some(micros),
            offset,
        })
    }
}

fn number(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, counted by years and months.
fn civil_days(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let y = number(parts.next()?, 4)?;
    let m = number(parts.next()?, 2)?;
    let d = number(parts.next()?, 2)?;
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const MONTH: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if y < 1 || !(1..=12).contains(&m) {
        return None;
    }
    let month_len = MONTH[(m - 1) as usize] + i64::from(m == 2 && leap(y));
    if d < 1 || d > month_len {
        return None;
    }
    // Days before year y since 0001-01-01, then before month m, then the day.
    let py = y - 1;
    let mut days = py * 365 + py / 4 - py / 100 + py / 400;
    days += MONTH[..(m - 1) as usize].iter().sum::<i64>() + i64::from(m > 2 && leap(y));
    days += d - 1;
    // 0001-01-01 is 719162 days before 1970-01-01.
    Some(days - 719_162)
}

/// Microseconds since midnight of `HH:MM[:SS[.fraction]]`.
fn clock_micros(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, ':');
    let h = number(parts.next()?, 2)?;
    let m = number(parts.next()?, 2)?;
    let (sec, frac) = match parts.next() {
        None => (0, 0),
        Some(rest) => {
            let (whole, frac) = rest.split_once('.').unwrap_or((rest, ""));
            let sec = number(whole, 2)?;
            if rest.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()))
            {
                return None;
            }
            // Beyond microseconds only zeros are exact.
            let (micro, beyond) = frac.split_at(frac.len().min(6));
            if beyond.bytes().any(|b| b != b'0') {
                return None;
            }
            let padded = format!("{micro:0<6}");
            (sec, padded.parse::<i64>().ok()?)
        }
    };
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1_000_000 + frac)
}

/// Seconds east of UTC of `Z`, `±HH`, `±HHMM` or `±HH:MM`.
fn zone_seconds(s: &str) -> Option<i32> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = s[1..].replace(':', "");
    if s[1..].matches(':').count() > 1 || (s[1..].contains(':') && s.len() != 6) {
        return None;
    }
    let (h, m) = match body.len() {
        2 => (number(&body, 2)?, 0),
        4 => (number(&body[..2], 2)?, number(&body[2..], 2)?),
        _ => return None,
    };
    if h > 15 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60) as i32)
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

/// JSON text in one form per value: object keys sorted (the last of duplicate keys wins,
/// as in jsonb), numbers as exact decimals, no insignificant whitespace.
pub fn canonical_json(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut out = String::new();
    write_json(&v, &mut out);
    Some(out)
}

fn write_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let text = n.to_string();
            out.push_str(&normal_decimal(&text).unwrap_or(text));
        }
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// Appends the canonical form of a value PostgreSQL sent in binary (`None`: NULL).
pub fn postgres(field: Option<&[u8]>, col: Col, out: &mut Vec<u8>) {
    let Some(b) = field else {
        out.push(NULL);
        return;
    };
    let ok = match col.kind {
        Kind::Bool if b.len() == 1 => {
            out.extend_from_slice(&[BOOL, u8::from(b[0] != 0)]);
            true
        }
        Kind::Int => {
            let v = match b.len() {
                2 => Some(i64::from(i16::from_be_bytes([b[0], b[1]]))),
                4 => Some(i64::from(be_i32(b))),
                8 => Some(be_i64(b)),
                _ => None,
            };
            v.map(|v| put_i64(out, INT, v)).is_some()
        }
        Kind::Float => {
            let bits = match b.len() {
                4 => Some(f64::from(f32::from_bits(be_i32(b) as u32)).to_bits() as i64),
                8 => Some(be_i64(b)),
                _ => None,
            };
            bits.map(|v| put_i64(out, FLOAT, v)).is_some()
        }
        Kind::Numeric => match numeric_text(b).and_then(|s| normal_decimal(&s)) {
            Some(d) => {
                put_var(out, DECIMAL, d.as_bytes());
                true
            }
            None => false,
        },
        Kind::Text => {
            put_var(out, TEXT, b);
            true
        }
        Kind::Bytes => {
            put_var(out, BYTES, b);
            true
        }
        Kind::Jsonb | Kind::Json => {
            let text = if col.kind == Kind::Jsonb {
                b.split_first().filter(|(v, _)| **v == 1).map(|(_, t)| t)
            } else {
                Some(b)
            };
            match text
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(canonical_json)
            {
                Some(j) => {
                    put_var(out, JSON, j.as_bytes());
                    true
                }
                None => false,
            }
        }
        Kind::Uuid if b.len() == 16 => {
            out.push(UUID);
            out.extend_from_slice(b);
            true
        }
        Kind::Date if b.len() == 4 => {
            let d = be_i32(b);
            if d == i32::MAX || d == i32::MIN {
                false
            } else {
                put_i64(out, DATE, i64::from(d) + UNIX_TO_PG_DAYS);
                true
            }
        }
        Kind::Time if b.len() == 8 => {
            put_i64(out, TIME, be_i64(b));
            true
        }
        Kind::TimeTz if b.len() == 12 => {
            put_i64(out, TIMETZ, be_i64(&b[..8]));
            // Sent as seconds west of UTC.
            out.extend_from_slice(&(-be_i32(&b[8..])).to_be_bytes());
            true
        }
        Kind::Timestamp | Kind::TimestampTz if b.len() == 8 => {
            let v = be_i64(b);
            if v == i64::MAX || v == i64::MIN {
                false
            } else {
                put_i64(out, TIMESTAMP, v + UNIX_TO_PG_DAYS * MICROS_PER_DAY);
                true
            }
        }
        _ => false,
    };
    if !ok {
        odd(out, b);
    }
}

fn odd(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, ODD, b);
}

fn be_i32(b: &[u8]) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    i32::from_be_bytes(a)
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

/// The decimal text of PostgreSQL's binary numeric: base-10000 digits with a weight.
fn numeric_text(b: &[u8]) -> Option<String> {
    if b.len() < 8 {
        return None;
    }
    let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let ndigits = word(0) as usize;
    let weight = word(2) as i16 as i64;
    let sign = word(4);
    if sign == 0xC000 {
        return Some("NaN".into());
    }
    if sign != 0 && sign != 0x4000 || b.len() != 8 + 2 * ndigits {
        return None;
    }
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if ndigits == 0 {
        return Some("0".into());
    }
    for i in 0..ndigits {
        let d = word(8 + 2 * i);
        if d > 9999 {
            return None;
        }
        s.push_str(&format!("{d:04}"));
    }
    // The first group is 10000^weight: the point sits after (weight + 1) groups.
    let exp = (weight + 1 - ndigits as i64) * 4;
    Some(format!("{s}e{exp}"))
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

fn shorten(s: &str) -> String {
    if s.chars().count() <= 200 {
        return s.to_string();
    }
    let cut: String = s.chars().take(200).collect();
    format!("{cut}… ({} bytes)", s.len())
}

fn hex(b: &[u8]) -> String {
    let shown = &b[..b.len().min(100)];
    let mut s: String = shown.iter().map(|x| format!("{x:02x}")).collect();
    if b.len() > shown.len() {
        s.push_str(&format!("… ({} bytes)", b.len()));
    }
    s
}

fn clock(micros: i64) -> String {
    let s = micros / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        micros % 1_000_000
    )
}

fn zone(east: i32) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn col(kind: Kind) -> Col {
        Col { kind, epoch: None }
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
    fn json_compares_as_values() {
        assert_eq!(
            canonical_json(r#"{"b": 1, "a": [1.0, 2e2]}"#),
            canonical_json(r#"{"a":[1.0,200],"b":1}"#)
        );
        assert_ne!(
            canonical_json(r#"{"a": 1}"#),
            canonical_json(r#"{"a": "1"}"#)
        );
        assert_eq!(
            canonical_json(r#"{"a": 1, "a": 2}"#).as_deref(),
            Some(r#"{"a":2}"#)
        );
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
}
