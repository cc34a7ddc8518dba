//! SQLite values → PostgreSQL's binary COPY format.
//!
//! Each value is converted to the column's chosen type by the rules of docs/type-mapping.md
//! and written as a length-prefixed field. A value that cannot be carried exactly (a NUL
//! byte in text, invalid UTF-8, a number out of range, an impossible date, a decimal with
//! more digits than the column holds) is refused with a reason: the row goes to the reject
//! file (DESIGN.md rule 1). The encoder takes whatever the file holds now, not what the
//! profile saw, because a live application may have written since.

use rusqlite::types::ValueRef;

use crate::plan::{Conversion, PgType, SourceZone};
use crate::sqlite::temporal::{self, EpochUnit, TextShape};

/// The 19-byte header that starts every binary COPY stream.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The trailer that ends it.
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// How one target column is filled.
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// The PostgreSQL type.
    pub ty: PgType,
    /// The conversion the plan chose.
    pub conversion: Conversion,
}

/// Starts a tuple of `fields` fields.
pub fn begin_tuple(out: &mut Vec<u8>, fields: u16) {
    out.extend_from_slice(&(fields as i16).to_be_bytes());
}

/// Writes one field, or returns why the value cannot be carried (and writes nothing).
pub fn encode(v: ValueRef<'_>, codec: Codec, out: &mut Vec<u8>) -> Result<(), String> {
    if let ValueRef::Null = v {
        out.extend_from_slice(&(-1i32).to_be_bytes());
        return Ok(());
    }
    let at = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    match body(v, codec, out) {
        Ok(()) => {
            let len = out.len() - at - 4;
            let len = i32::try_from(len).map_err(|_| {
                out.truncate(at);
                "value larger than the 1 GB PostgreSQL allows in one field".to_string()
            })?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(why) => {
            out.truncate(at);
            Err(why)
        }
    }
}

/// The SQLite storage class of a value, as `typeof()` names it.
pub fn kind(v: &ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "null",
        ValueRef::Integer(_) => "integer",
        ValueRef::Real(_) => "real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "blob",
    }
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    if bytes.contains(&0) {
        return Err("text holds a NUL byte, which PostgreSQL text cannot store".into());
    }
    // Every text value of the database passes here: the SIMD check, several times faster
    // than std's on non-ASCII text; std's finds the offset for the message.
    simdutf8::basic::from_utf8(bytes).map_err(|_| {
        let at = std::str::from_utf8(bytes)
            .err()
            .map_or(0, |e| e.valid_up_to());
        format!(
            "text is not valid UTF-8 (bad byte at offset {at}), which PostgreSQL text cannot store"
        )
    })
}

/// Writes [`number_text`] into `out`, without allocating.
fn put_number_text(v: &ValueRef<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    // Writing into a Vec cannot fail.
    let _ = match v {
        ValueRef::Integer(i) => write!(out, "{i}"),
        ValueRef::Real(f) if f.is_nan() => write!(out, "NaN"),
        ValueRef::Real(f) if f.is_infinite() => {
            write!(out, "{}", if *f > 0.0 { "Infinity" } else { "-Infinity" })
        }
        ValueRef::Real(f) => write!(out, "{f:?}"),
        _ => Ok(()),
    };
}

/// The exact text a number is carried as in a text column: integers in decimal, doubles
/// as the shortest decimal that reads back to the same bits.
pub fn number_text(v: &ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) if f.is_nan() => Some("NaN".into()),
        ValueRef::Real(f) if f.is_infinite() => {
            Some(if *f > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        ValueRef::Real(f) => Some(format!("{f:?}")),
        _ => None,
    }
}

fn body(v: ValueRef<'_>, codec: Codec, out: &mut Vec<u8>) -> Result<(), String> {
    let wrong = |v: &ValueRef<'_>| wrong(v, codec.ty);
    match codec.ty {
        PgType::Boolean => {
            let b = match v {
                ValueRef::Integer(0) => false,
                ValueRef::Integer(1) => true,
                ValueRef::Text(t) => {
                    let s = text(t)?.trim();
                    let is = |words: &[&str]| words.iter().any(|w| s.eq_ignore_ascii_case(w));
                    if is(&["t", "true", "y", "yes", "on", "1"]) {
                        true
                    } else if is(&["f", "false", "n", "no", "off", "0"]) {
                        false
                    } else {
                        return Err("text is not a boolean spelling".into());
                    }
                }
                other => return Err(format!("{} is not 0 or 1", display(&other))),
            };
            out.push(u8::from(b));
        }
        PgType::SmallInt | PgType::Integer | PgType::BigInt => {
            let i = match v {
                ValueRef::Integer(i) => i,
                ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => f as i64,
                other => return Err(wrong(&other)),
            };
            match codec.ty {
                PgType::SmallInt => out.extend_from_slice(
                    &i16::try_from(i)
                        .map_err(|_| format!("{i} is out of smallint range"))?
                        .to_be_bytes(),
                ),
                PgType::Integer => out.extend_from_slice(
                    &i32::try_from(i)
                        .map_err(|_| format!("{i} is out of integer range"))?
                        .to_be_bytes(),
                ),
                _ => out.extend_from_slice(&i.to_be_bytes()),
            }
        }
        PgType::Double => {
            let f = match v {
                ValueRef::Real(f) => f,
                ValueRef::Integer(i) if i.unsigned_abs() <= 1 << 53 => i as f64,
                ValueRef::Integer(i) => {
                    return Err(format!("integer {i} is not exact as a double"));
                }
                other => return Err(wrong(&other)),
            };
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        PgType::Numeric(typmod) => super::numeric::encode(v, typmod, codec.conversion, out)
            .map_err(|r| match r {
                super::numeric::Refusal::NotANumber => wrong(&v),
                r => r.reason(&display(&v)),
            })?,
        PgType::Text | PgType::Varchar(_) | PgType::Citext => text_body(v, codec, out)?,
        PgType::Bytea => match v {
            ValueRef::Blob(b) | ValueRef::Text(b) => out.extend_from_slice(b),
            ValueRef::Integer(_) | ValueRef::Real(_) => put_number_text(&v, out),
            ValueRef::Null => {}
        },
        PgType::Jsonb => {
            // The version byte of jsonb's binary form, then the text.
            out.push(1);
            match v {
                ValueRef::Text(t) => {
                    let s = text(t)?;
                    if !super::json_check::is_json(s) {
                        return Err("text is not valid JSON".into());
                    }
                    if s.contains("\\u0000") {
                        return Err("JSON holds \\u0000, which jsonb cannot store".into());
                    }
                    out.extend_from_slice(s.as_bytes());
                }
                ValueRef::Integer(_) => put_number_text(&v, out),
                ValueRef::Real(f) if f.is_finite() => put_number_text(&v, out),
                other => return Err(wrong(&other)),
            }
        }
        PgType::Uuid => match v {
            ValueRef::Blob(b) if b.len() == 16 => out.extend_from_slice(b),
            ValueRef::Text(t) => {
                let u = uuid::Uuid::try_parse(text(t)?.trim())
                    .map_err(|_| "text is not a UUID".to_string())?;
                out.extend_from_slice(u.as_bytes());
            }
            other => return Err(format!("{} is not a UUID", display(&other))),
        },
        PgType::Date | PgType::Time | PgType::TimeTz | PgType::Timestamp | PgType::TimestampTz => {
            temporal_body(v, codec, out)?
        }
        PgType::Real => real_body(v, out)?,
        PgType::Interval => interval_body(v, out)?,
        PgType::Json => match v {
            ValueRef::Text(t) => {
                let s = text(t)?;
                if !super::json_check::is_json(s) {
                    return Err("text is not valid JSON".into());
                }
                out.extend_from_slice(s.as_bytes());
            }
            ValueRef::Integer(_) => put_number_text(&v, out),
            ValueRef::Real(f) if f.is_finite() => put_number_text(&v, out),
            other => return Err(wrong(&other)),
        },
        PgType::Char(n) => char_body(v, n, out)?,
        PgType::Enum => match v {
            // The server checks the label; a value that is none goes to the reject file
            // with PostgreSQL's reason.
            ValueRef::Text(t) => out.extend_from_slice(text(t)?.as_bytes()),
            other => return Err(format!("{} is not an enum label", display(&other))),
        },
        PgType::Inet | PgType::Cidr => match v {
            ValueRef::Text(t) => super::inet::inet(text(t)?.trim(), codec.ty == PgType::Cidr, out)?,
            other => return Err(format!("{} is not a network address", display(&other))),
        },
    }
    Ok(())
}

fn wrong(v: &ValueRef<'_>, ty: PgType) -> String {
    format!("a {} value cannot be stored in a {ty} column", kind(v))
}

/// Text, varchar(n) (checked: no value is cut) and citext.
/// The text `bytes` become under `--invalid-text clean`, when they hold a NUL byte or are
/// not valid UTF-8: NUL removed, each invalid sequence replaced by U+FFFD; `None` when
/// they are fine as they are.
pub fn cleaned(bytes: &[u8]) -> Option<String> {
    if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        return None;
    }
    Some(String::from_utf8_lossy(bytes).replace('\0', ""))
}

fn text_body(v: ValueRef<'_>, codec: Codec, out: &mut Vec<u8>) -> Result<(), String> {
    let ty = codec.ty;
    let start = out.len();
    match v {
        ValueRef::Text(t) if codec.conversion == Conversion::CleanText => match cleaned(t) {
            Some(c) => out.extend_from_slice(c.as_bytes()),
            None => out.extend_from_slice(t),
        },
        ValueRef::Text(t) => out.extend_from_slice(text(t)?.as_bytes()),
        ValueRef::Integer(_) | ValueRef::Real(_) => put_number_text(&v, out),
        other => return Err(wrong(&other, ty)),
    }
    if let PgType::Varchar(n) = ty {
        // Safe: the bytes were just checked or produced as UTF-8.
        let chars = String::from_utf8_lossy(&out[start..]).chars().count();
        if chars > n as usize {
            return Err(format!(
                "{chars} characters do not fit varchar({n}) without cutting"
            ));
        }
    }
    Ok(())
}

/// A 4-byte real, only when the value reads back the same.
fn real_body(v: ValueRef<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let f = match v {
        ValueRef::Real(f) => f,
        ValueRef::Integer(i) if i.unsigned_abs() <= 1 << 24 => i as f64,
        ValueRef::Integer(i) => return Err(format!("integer {i} is not exact as a real")),
        other => return Err(wrong(&other, PgType::Real)),
    };
    let r = f as f32;
    if f64::from(r) != f && !f.is_nan() {
        return Err(format!(
            "{} is not exact in a 4-byte real (it would read back as {r})",
            display(&v)
        ));
    }
    out.extend_from_slice(&r.to_bits().to_be_bytes());
    Ok(())
}

/// An interval: microseconds, days, months.
fn interval_body(v: ValueRef<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let micros = match v {
        ValueRef::Integer(i) => i,
        ValueRef::Text(t) => super::interval::interval_micros(text(t)?)?,
        other => return Err(format!("{} is not a duration", display(&other))),
    };
    // Whole days as days and the rest as time, as the frameworks write a duration
    // (psycopg sends a timedelta as days and seconds); no months, whose length
    // depends on the calendar.
    let days = micros / MICROS_PER_DAY;
    let days = i32::try_from(days).map_err(|_| format!("{micros} µs is out of interval range"))?;
    out.extend_from_slice(&(micros % MICROS_PER_DAY).to_be_bytes());
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    Ok(())
}

/// character(n), blank-padded by the server.
fn char_body(v: ValueRef<'_>, n: u32, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    match v {
        ValueRef::Text(t) => out.extend_from_slice(text(t)?.as_bytes()),
        ValueRef::Integer(_) | ValueRef::Real(_) => put_number_text(&v, out),
        other => return Err(wrong(&other, PgType::Char(n))),
    }
    // character(n) ignores trailing blanks; anything else past n would be cut. (The bytes
    // were checked as UTF-8 or written as ASCII just now.)
    let s = std::str::from_utf8(&out[start..]).unwrap_or("");
    let chars = s.trim_end_matches(' ').chars().count();
    if chars > n as usize {
        return Err(format!(
            "{chars} characters do not fit character({n}) without cutting"
        ));
    }
    Ok(())
}

/// 2000-01-01 in days since 1970: the date ActiveRecord puts before a time of day it keeps
/// in SQLite. Only that date may be dropped for `time`; any other would be lost.
const TIME_DUMMY_DAYS: i64 = 10957;

fn temporal_body(v: ValueRef<'_>, codec: Codec, out: &mut Vec<u8>) -> Result<(), String> {
    let ty = codec.ty;
    let unix_micros: i64 = match v {
        ValueRef::Text(t) => {
            let s = text(t)?;
            let p = temporal::parse_text(s)
                .ok_or_else(|| format!("'{s}' is not a date or time PostgreSQL holds exactly"))?;
            let shape = p.shape();
            let naive_zone = match codec.conversion {
                Conversion::NaiveAt { offset_seconds } => Some(SourceZone::Offset(offset_seconds)),
                Conversion::NaiveIn { zone } => Some(SourceZone::Named(zone)),
                _ => None,
            };
            let fits = match ty {
                PgType::Date => shape == TextShape::Date,
                PgType::Time => {
                    shape == TextShape::Time
                        || shape == TextShape::Naive && p.unix_days() == Some(TIME_DUMMY_DAYS)
                }
                PgType::TimeTz => shape == TextShape::TimeWithOffset,
                PgType::Timestamp => matches!(shape, TextShape::Date | TextShape::Naive),
                // The source's zone was named (or is UTC by default) for naive text.
                _ if naive_zone.is_some() => {
                    matches!(
                        shape,
                        TextShape::WithOffset | TextShape::Naive | TextShape::Date
                    )
                }
                _ => shape == TextShape::WithOffset,
            };
            if !fits && ty == PgType::Time && shape == TextShape::Naive {
                return Err(format!(
                    "'{s}' has a date other than 2000-01-01 (where ActiveRecord puts its times \
                     of day), which the column's time values would lose"
                ));
            }
            if !fits {
                return Err(format!(
                    "'{s}' does not have the shape of the column's {ty} values (an offset \
                     would be lost or invented)"
                ));
            }
            let time = p.time.unwrap_or(0);
            if ty == PgType::Time {
                out.extend_from_slice(&time.to_be_bytes());
                return Ok(());
            }
            if ty == PgType::TimeTz {
                out.extend_from_slice(&time.to_be_bytes());
                // PostgreSQL stores the zone as seconds west of UTC.
                out.extend_from_slice(&(-p.offset.unwrap_or(0)).to_be_bytes());
                return Ok(());
            }
            let days = p.unix_days().unwrap_or(0);
            if ty == PgType::Date {
                let d = days - PG_EPOCH_DAYS;
                out.extend_from_slice(&(d as i32).to_be_bytes());
                return Ok(());
            }
            let local = days * MICROS_PER_DAY + time;
            match (p.offset, naive_zone) {
                (Some(offset), _) => local - i64::from(offset) * 1_000_000,
                (None, Some(zone)) => zone
                    .to_utc_micros(local)
                    .map_err(|why| format!("'{s}': {why}"))?,
                (None, None) => local,
            }
        }
        ValueRef::Integer(i)
            if ty == PgType::TimestampTz
                || matches!(codec.conversion, Conversion::Epoch { .. })
                    && matches!(ty, PgType::Timestamp | PgType::Date) =>
        {
            let unit = match codec.conversion {
                Conversion::Epoch { unit } => {
                    // A value of another magnitude is not in the column's unit: placing it
                    // by its own would be a guess the data contradicts.
                    if let Some(own) = temporal::epoch_unit(i).filter(|own| *own != unit) {
                        return Err(format!(
                            "{i} looks like an epoch in {own:?} while the column's values are                              in {unit:?}: the unit is ambiguous"
                        ));
                    }
                    unit
                }
                _ => temporal::epoch_unit(i)
                    .ok_or_else(|| format!("{i} is not a unix epoch lite2pg can place"))?,
            };
            let micros = match unit {
                EpochUnit::Seconds => i.checked_mul(1_000_000),
                EpochUnit::Millis => i.checked_mul(1_000),
                EpochUnit::Micros => Some(i),
            };
            let micros = micros.ok_or_else(|| format!("{i} is out of timestamp range"))?;
            if ty == PgType::Date {
                if micros.rem_euclid(MICROS_PER_DAY) != 0 {
                    return Err(format!(
                        "{i} is not midnight UTC: a date column would lose its time of day"
                    ));
                }
                let d = micros.div_euclid(MICROS_PER_DAY) - PG_EPOCH_DAYS;
                let d = i32::try_from(d).map_err(|_| format!("{i} is out of date range"))?;
                out.extend_from_slice(&d.to_be_bytes());
                return Ok(());
            }
            micros
        }
        ValueRef::Real(f) if ty == PgType::TimestampTz && temporal::julian_exact(f) => {
            temporal::julian_to_unix_micros(f)
        }
        other => {
            return Err(format!(
                "{} is not a {ty} value lite2pg can carry exactly",
                display(&other)
            ))
        }
    };
    let pg = unix_micros - PG_EPOCH_DAYS * MICROS_PER_DAY;
    out.extend_from_slice(&pg.to_be_bytes());
    Ok(())
}

/// A short printable form of a value for messages.
pub fn display(v: &ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            let cut: String = s.chars().take(40).collect();
            format!("text '{cut}'")
        }
        ValueRef::Blob(b) => format!("a {}-byte blob", b.len()),
        _ => number_text(v).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_removes_nul_bytes_and_replaces_invalid_utf8_only_when_needed() {
        assert_eq!(cleaned(b"fine"), None);
        assert_eq!(cleaned(b"nul\0x").as_deref(), Some("nulx"));
        assert_eq!(cleaned(b"\xc3(").as_deref(), Some("\u{fffd}("));
        let codec = Codec {
            ty: PgType::Text,
            conversion: Conversion::CleanText,
        };
        let mut out = Vec::new();
        encode(ValueRef::Text(b"a\0b"), codec, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 2, b'a', b'b']);
    }

    fn enc(v: ValueRef<'_>, ty: PgType, conversion: Conversion) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode(v, Codec { ty, conversion }, &mut out)?;
        Ok(out[4..].to_vec())
    }

    fn micros(b: &[u8]) -> i64 {
        i64::from_be_bytes(b[..8].try_into().unwrap())
    }

    #[test]
    fn doubles_keep_every_bit() {
        for f in [-0.0, f64::INFINITY, f64::MIN_POSITIVE / 3.0, 0.1 + 0.2] {
            let b = enc(ValueRef::Real(f), PgType::Double, Conversion::AsIs).unwrap();
            assert_eq!(u64::from_be_bytes(b.try_into().unwrap()), f.to_bits());
        }
    }

    #[test]
    fn text_with_nul_or_bad_utf8_is_refused_with_a_reason() {
        let e = enc(ValueRef::Text(b"a\0b"), PgType::Text, Conversion::AsIs).unwrap_err();
        assert!(e.contains("NUL"), "{e}");
        let e = enc(ValueRef::Text(b"\xff"), PgType::Text, Conversion::AsIs).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
        let e = enc(ValueRef::Text(b"x"), PgType::BigInt, Conversion::AsIs).unwrap_err();
        assert!(e.contains("text value cannot be stored in a bigint"), "{e}");
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let b = enc(
            ValueRef::Text(b"2000-01-01 00:00:01.5"),
            PgType::Timestamp,
            Conversion::TextToTemporal,
        )
        .unwrap();
        assert_eq!(micros(&b), 1_500_000);
        let b = enc(
            ValueRef::Text(b"2000-01-01T01:00:00+01:00"),
            PgType::TimestampTz,
            Conversion::TextToTemporal,
        )
        .unwrap();
        assert_eq!(micros(&b), 0);
        let b = enc(
            ValueRef::Integer(946_684_800_000),
            PgType::TimestampTz,
            Conversion::Epoch {
                unit: EpochUnit::Millis,
            },
        )
        .unwrap();
        assert_eq!(micros(&b), 0);
        let b = enc(
            ValueRef::Text(b"1999-12-31"),
            PgType::Date,
            Conversion::AsIs,
        )
        .unwrap();
        assert_eq!(b, (-1i32).to_be_bytes());
        assert!(enc(
            ValueRef::Text(b"2023-02-29"),
            PgType::Date,
            Conversion::TextToTemporal
        )
        .is_err());
        assert!(enc(
            ValueRef::Text(b"2023-02-01 10:00+02"),
            PgType::Timestamp,
            Conversion::TextToTemporal
        )
        .is_err());
    }

    #[test]
    fn narrow_columns_refuse_values_they_would_cut() {
        assert!(enc(
            ValueRef::Real(1.005),
            PgType::Numeric(Some((5, 2))),
            Conversion::AsIs
        )
        .is_err());
        assert!(enc(
            ValueRef::Integer(70_000),
            PgType::SmallInt,
            Conversion::AsIs
        )
        .is_err());
        assert!(enc(
            ValueRef::Text("héllo".as_bytes()),
            PgType::Varchar(5),
            Conversion::AsIs
        )
        .is_ok());
        assert!(enc(
            ValueRef::Text(b"hello!"),
            PgType::Varchar(5),
            Conversion::AsIs
        )
        .is_err());
        assert!(enc(ValueRef::Integer(1 << 60), PgType::Double, Conversion::AsIs).is_err());
    }

    #[test]
    fn numbers_in_text_columns_keep_their_exact_value() {
        let b = enc(ValueRef::Real(0.1), PgType::Text, Conversion::NumberToText).unwrap();
        assert_eq!(b, b"0.1");
        let b = enc(
            ValueRef::Real(1e300),
            PgType::Text,
            Conversion::NumberToText,
        )
        .unwrap();
        assert_eq!(String::from_utf8(b).unwrap().parse::<f64>().unwrap(), 1e300);
        let b = enc(
            ValueRef::Integer(i64::MIN),
            PgType::Text,
            Conversion::NumberToText,
        )
        .unwrap();
        assert_eq!(b, i64::MIN.to_string().as_bytes());
    }

    #[test]
    fn durations_from_django_sqlalchemy_and_iso_text_are_exact() {
        let iv = |v: ValueRef<'_>| -> Result<(i64, i32, i32), String> {
            let b = enc(v, PgType::Interval, Conversion::ToInterval)?;
            Ok((
                micros(&b),
                i32::from_be_bytes(b[8..12].try_into().unwrap()),
                i32::from_be_bytes(b[12..16].try_into().unwrap()),
            ))
        };
        // Django: integer microseconds; whole days as days.
        assert_eq!(
            iv(ValueRef::Integer(93_600_000_000)),
            Ok((7_200_000_000, 1, 0))
        );
        assert_eq!(iv(ValueRef::Integer(-1_500_000)), Ok((-1_500_000, 0, 0)));
        // SQLAlchemy: the time since 1970-01-01.
        assert_eq!(
            iv(ValueRef::Text(b"1970-01-02 01:00:00.000001")),
            Ok((3_600_000_001, 1, 0))
        );
        assert_eq!(
            iv(ValueRef::Text(b"P1W2DT3H4M5.5S")),
            Ok((11_045_500_000, 9, 0))
        );
        assert_eq!(iv(ValueRef::Text(b"-PT1S")), Ok((-1_000_000, 0, 0)));
        // Months and years have no fixed length; a fraction below a microsecond is lost.
        assert!(iv(ValueRef::Text(b"P1M")).unwrap_err().contains("ISO-8601"));
        assert!(iv(ValueRef::Text(b"PT0.0000001S")).is_err());
        assert!(iv(ValueRef::Text(b"soon")).is_err());
        assert!(iv(ValueRef::Real(1.5)).is_err());
    }

    #[test]
    fn reals_are_carried_into_real_only_when_exact() {
        let b = enc(ValueRef::Real(1.5), PgType::Real, Conversion::AsIs).unwrap();
        assert_eq!(
            f32::from_bits(u32::from_be_bytes(b.try_into().unwrap())),
            1.5
        );
        assert!(enc(ValueRef::Real(0.1), PgType::Real, Conversion::AsIs)
            .unwrap_err()
            .contains("4-byte real"));
        assert!(enc(ValueRef::Integer(1 << 25), PgType::Real, Conversion::AsIs).is_err());
    }

    #[test]
    fn character_n_counts_characters_but_not_trailing_blanks() {
        assert!(enc(
            ValueRef::Text("ab".as_bytes()),
            PgType::Char(3),
            Conversion::AsIs
        )
        .is_ok());
        assert!(enc(
            ValueRef::Text("ab    ".as_bytes()),
            PgType::Char(3),
            Conversion::AsIs
        )
        .is_ok());
        assert!(enc(
            ValueRef::Text("äöüß".as_bytes()),
            PgType::Char(3),
            Conversion::AsIs
        )
        .unwrap_err()
        .contains("character(3)"));
    }

    #[test]
    fn inet_and_cidr_are_written_in_binary_and_cidr_refuses_host_bits() {
        let b = enc(
            ValueRef::Text(b"192.168.0.1"),
            PgType::Inet,
            Conversion::AsIs,
        )
        .unwrap();
        assert_eq!(b, [2, 32, 0, 4, 192, 168, 0, 1]);
        let b = enc(
            ValueRef::Text(b"10.0.0.0/8"),
            PgType::Cidr,
            Conversion::AsIs,
        )
        .unwrap();
        assert_eq!(b, [2, 8, 1, 4, 10, 0, 0, 0]);
        let b = enc(
            ValueRef::Text(b"2001:db8::/32"),
            PgType::Cidr,
            Conversion::AsIs,
        )
        .unwrap();
        assert_eq!(&b[..4], [3, 32, 1, 16]);
        assert!(enc(
            ValueRef::Text(b"10.0.0.1/8"),
            PgType::Cidr,
            Conversion::AsIs
        )
        .unwrap_err()
        .contains("right of its mask"));
        assert!(enc(
            ValueRef::Text(b"10.0.0.1/33"),
            PgType::Inet,
            Conversion::AsIs
        )
        .is_err());
        assert!(enc(ValueRef::Text(b"localhost"), PgType::Inet, Conversion::AsIs).is_err());
    }

    #[test]
    fn a_time_on_activerecords_dummy_date_fills_time_and_any_other_date_is_refused() {
        let t = |v: &[u8]| enc(ValueRef::Text(v), PgType::Time, Conversion::AsIs);
        assert_eq!(
            micros(&t(b"2000-01-01 23:59:59.999999").unwrap()),
            86_399_999_999
        );
        assert_eq!(micros(&t(b"08:00:00").unwrap()), 28_800_000_000);
        // The date would be lost.
        assert!(t(b"2000-01-02 10:00:00").is_err());
        assert!(t(b"2000-01-01").is_err());
        assert!(t(b"2000-01-01 10:00:00+01:00").is_err());
    }

    #[test]
    fn naive_date_times_into_timestamptz_are_read_at_the_source_offset() {
        let utc = Conversion::NaiveAt { offset_seconds: 0 };
        let plus2 = Conversion::NaiveAt {
            offset_seconds: 7200,
        };
        let at = |v: &[u8], c| micros(&enc(ValueRef::Text(v), PgType::TimestampTz, c).unwrap());
        assert_eq!(at(b"2000-01-01 00:00:00", utc), 0);
        assert_eq!(at(b"2000-01-01 02:00:00", plus2), 0);
        // Text that carries its own offset keeps it.
        assert_eq!(at(b"2000-01-01 01:00:00+01:00", plus2), 0);
        // Without the conversion, naive text is refused: the offset would be invented.
        assert!(enc(
            ValueRef::Text(b"2000-01-01 00:00:00"),
            PgType::TimestampTz,
            Conversion::AsIs
        )
        .is_err());
    }

    #[test]
    fn epochs_fill_dates_and_timestamps_in_the_column_unit_or_are_refused() {
        let ms = Conversion::Epoch {
            unit: EpochUnit::Millis,
        };
        let b = enc(ValueRef::Integer(946_684_800_000), PgType::Timestamp, ms).unwrap();
        assert_eq!(micros(&b), 0);
        let b = enc(ValueRef::Integer(946_771_200_000), PgType::Date, ms).unwrap();
        assert_eq!(i32::from_be_bytes(b.try_into().unwrap()), 1);
        assert!(enc(ValueRef::Integer(946_771_200_001), PgType::Date, ms)
            .unwrap_err()
            .contains("midnight"));
        // A value in seconds among milliseconds: the unit is ambiguous.
        assert!(
            enc(ValueRef::Integer(1_700_000_000), PgType::TimestampTz, ms)
                .unwrap_err()
                .contains("ambiguous")
        );
    }

    #[test]
    fn enum_labels_go_as_text_and_json_is_validated() {
        assert_eq!(
            enc(ValueRef::Text(b"happy"), PgType::Enum, Conversion::AsIs).unwrap(),
            b"happy"
        );
        assert!(enc(ValueRef::Integer(1), PgType::Enum, Conversion::AsIs).is_err());
        assert_eq!(
            enc(
                ValueRef::Text(br#"{"a": 1.50}"#),
                PgType::Json,
                Conversion::ToJson
            )
            .unwrap(),
            br#"{"a": 1.50}"#
        );
        assert!(enc(ValueRef::Text(b"{nope"), PgType::Json, Conversion::ToJson).is_err());
    }
}
