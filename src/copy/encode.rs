//! SQLite values → PostgreSQL's binary COPY format.
//!
//! Each value is converted to the column's chosen type by the rules of docs/type-mapping.md
//! and written as a length-prefixed field. A value that cannot be carried exactly (a NUL
//! byte in text, invalid UTF-8, a number out of range, an impossible date, a decimal with
//! more digits than the column holds) is refused with a reason: the row goes to the reject
//! file (DESIGN.md rule 1). The encoder takes whatever the file holds now, not what the
//! profile saw, because a live application may have written since.

use rusqlite::types::ValueRef;

use super::numeric::Decimal;
use crate::plan::{Conversion, PgType};
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
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "text is not valid UTF-8 (bad byte at offset {}), which PostgreSQL text cannot store",
            e.valid_up_to()
        )
    })
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
    let wrong = |v: &ValueRef<'_>| -> String {
        format!(
            "a {} value cannot be stored in a {} column",
            kind(v),
            codec.ty
        )
    };
    match codec.ty {
        PgType::Boolean => {
            let b = match v {
                ValueRef::Integer(0) => false,
                ValueRef::Integer(1) => true,
                ValueRef::Text(t) => match text(t)?.trim().to_ascii_lowercase().as_str() {
                    "t" | "true" | "y" | "yes" | "on" | "1" => true,
                    "f" | "false" | "n" | "no" | "off" | "0" => false,
                    _ => return Err("text is not a boolean spelling".into()),
                },
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
        PgType::Numeric(typmod) => {
            let d = match v {
                ValueRef::Integer(i) => Decimal::from_i64(i),
                ValueRef::Real(f) => {
                    Decimal::from_f64(f).ok_or_else(|| format!("{f} has no exact numeric value"))?
                }
                other => return Err(wrong(&other)),
            };
            if let Some((p, s)) = typmod {
                if d.scale() > s || d.integer_digits() + s > p {
                    return Err(format!(
                        "{} does not fit numeric({p},{s}) without rounding",
                        display(&v)
                    ));
                }
            }
            d.write_binary(out);
        }
        PgType::Text | PgType::Varchar(_) | PgType::Citext => {
            let start = out.len();
            match v {
                ValueRef::Text(t) => out.extend_from_slice(text(t)?.as_bytes()),
                ValueRef::Integer(_) | ValueRef::Real(_) => {
                    out.extend_from_slice(number_text(&v).unwrap_or_default().as_bytes())
                }
                other => return Err(wrong(&other)),
            }
            if let PgType::Varchar(n) = codec.ty {
                // Safe: the bytes were just checked or produced as UTF-8.
                let chars = String::from_utf8_lossy(&out[start..]).chars().count();
                if chars > n as usize {
                    return Err(format!(
                        "{chars} characters do not fit varchar({n}) without cutting"
                    ));
                }
            }
        }
        PgType::Bytea => match v {
            ValueRef::Blob(b) | ValueRef::Text(b) => out.extend_from_slice(b),
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                out.extend_from_slice(number_text(&v).unwrap_or_default().as_bytes())
            }
            ValueRef::Null => {}
        },
        PgType::Jsonb => {
            let json = match v {
                ValueRef::Text(t) => {
                    let s = text(t)?;
                    if serde_json::from_str::<serde::de::IgnoredAny>(s).is_err() {
                        return Err("text is not valid JSON".into());
                    }
                    if s.contains("\\u0000") {
                        return Err("JSON holds \\u0000, which jsonb cannot store".into());
                    }
                    s.to_string()
                }
                ValueRef::Integer(_) => number_text(&v).unwrap_or_default(),
                ValueRef::Real(f) if f.is_finite() => number_text(&v).unwrap_or_default(),
                other => return Err(wrong(&other)),
            };
            out.push(1);
            out.extend_from_slice(json.as_bytes());
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
    }
    Ok(())
}

fn temporal_body(v: ValueRef<'_>, codec: Codec, out: &mut Vec<u8>) -> Result<(), String> {
    let ty = codec.ty;
    let unix_micros: i64 = match v {
        ValueRef::Text(t) => {
            let s = text(t)?;
            let p = temporal::parse_text(s)
                .ok_or_else(|| format!("'{s}' is not a date or time PostgreSQL holds exactly"))?;
            let shape = p.shape();
            let fits = match ty {
                PgType::Date => shape == TextShape::Date,
                PgType::Time => shape == TextShape::Time,
                PgType::TimeTz => shape == TextShape::TimeWithOffset,
                PgType::Timestamp => matches!(shape, TextShape::Date | TextShape::Naive),
                _ => shape == TextShape::WithOffset,
            };
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
            days * MICROS_PER_DAY + time - i64::from(p.offset.unwrap_or(0)) * 1_000_000
        }
        ValueRef::Integer(i) if ty == PgType::TimestampTz => {
            let unit = match codec.conversion {
                Conversion::Epoch { unit } => unit,
                _ => temporal::epoch_unit(i)
                    .ok_or_else(|| format!("{i} is not a unix epoch lite2pg can place"))?,
            };
            let micros = match unit {
                EpochUnit::Seconds => i.checked_mul(1_000_000),
                EpochUnit::Millis => i.checked_mul(1_000),
                EpochUnit::Micros => Some(i),
            };
            micros.ok_or_else(|| format!("{i} is out of timestamp range"))?
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
}
