//! The SQLite road to the canonical form: from a storage class and its bytes, with this
//! module's own date, time and julian-day parsing (never the copier's).

use rusqlite::types::ValueRef;

use super::json::put_json;
use super::*;

pub(super) fn raw(out: &mut Vec<u8>, v: ValueRef<'_>) {
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
pub(super) fn number_text(v: ValueRef<'_>) -> Option<String> {
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

/// A value of a text column: the text as it is, or cleaned as `--invalid-text clean`
/// carried it; numbers as their decimal text. `false`: no image.
fn text(v: ValueRef<'_>, col: Col, out: &mut Vec<u8>) -> bool {
    match v {
        ValueRef::Text(t) if col.clean_text => {
            // What PostgreSQL text can hold of it: NUL bytes out, invalid UTF-8 as U+FFFD.
            match std::str::from_utf8(t) {
                Ok(s) if !s.contains('\0') => put_var(out, TEXT, t),
                _ => {
                    let lossy = String::from_utf8_lossy(t);
                    let kept: String = lossy.chars().filter(|c| *c != '\0').collect();
                    put_var(out, TEXT, kept.as_bytes());
                }
            }
            true
        }
        ValueRef::Text(t) => {
            put_var(out, TEXT, t);
            true
        }
        ValueRef::Integer(_) | ValueRef::Real(_) => {
            put_var(out, TEXT, number_text(v).unwrap_or_default().as_bytes());
            true
        }
        _ => false,
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
                let text = match col.decimal {
                    Some((reading, typmod)) => super::decimal::as_read(v, reading, typmod),
                    None => number_text(v),
                };
                match text.and_then(|s| normal_decimal(&s)) {
                    Some(d) => {
                        put_var(out, DECIMAL, d.as_bytes());
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        },
        Kind::Text => text(v, col, out),
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
        Kind::Jsonb | Kind::Json => match v {
            ValueRef::Text(t) => put_json(out, t),
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                number_text(v).is_some_and(|n| put_json(out, n.as_bytes()))
            }
            _ => false,
        },
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
        Kind::Interval => match interval_micros(v) {
            Some(m) => {
                put_i64(out, INTERVAL, m);
                true
            }
            None => false,
        },
        Kind::Inet => match v {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| inet(s.trim(), out))
                .is_some(),
            _ => false,
        },
        Kind::Char => match v {
            ValueRef::Text(t) => match std::str::from_utf8(t) {
                Ok(s) => {
                    put_var(out, TEXT, s.trim_end_matches(' ').as_bytes());
                    true
                }
                Err(_) => false,
            },
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                put_var(out, TEXT, number_text(v).unwrap_or_default().as_bytes());
                true
            }
            _ => false,
        },
    };
    if !done {
        raw(out, v);
    }
}

pub(super) fn bool_spelling(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

pub(super) fn temporal_sqlite(v: ValueRef<'_>, col: Col, out: &mut Vec<u8>) -> bool {
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
                // ActiveRecord's `time` on SQLite: a time of day on 2000-01-01 (day 10957),
                // the only date `time` may drop.
                (Kind::Time, None, None) => {
                    put_i64(out, TIME, p.micros.unwrap_or(0));
                    true
                }
                (Kind::Time, Some(10957), None) if p.micros.is_some() => {
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
                // Wall time without an offset, read at the source's zone the plan named.
                (Kind::TimestampTz, Some(days), None) if col.naive_zone.is_some() => {
                    let local = days * MICROS_PER_DAY + p.micros.unwrap_or(0);
                    match col.naive_zone.and_then(|z| zone_utc(z, local)) {
                        Some(utc) => {
                            put_i64(out, TIMESTAMP, utc);
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            }
        }
        ValueRef::Integer(i)
            if col.kind == Kind::TimestampTz
                || col.epoch.is_some() && matches!(col.kind, Kind::Timestamp | Kind::Date) =>
        {
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
                Some(m) if col.kind == Kind::Date => {
                    // Only a midnight is a date; anything else matches nothing.
                    if m % MICROS_PER_DAY != 0 {
                        return false;
                    }
                    put_i64(out, DATE, m.div_euclid(MICROS_PER_DAY));
                    true
                }
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
pub(super) fn julian_micros(jd: f64) -> Option<i64> {
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
pub(super) struct Iso {
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

pub(super) fn number(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, counted by years and months.
pub(super) fn civil_days(s: &str) -> Option<i64> {
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
pub(super) fn clock_micros(s: &str) -> Option<i64> {
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
pub(super) fn zone_seconds(s: &str) -> Option<i32> {
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

/// Microseconds of a duration as SQLite holds it: an integer count of microseconds, an
/// ISO-8601 `P…` duration in weeks, days, hours, minutes and seconds, or a date-time
/// counted from 1970-01-01.
pub(super) fn interval_micros(v: ValueRef<'_>) -> Option<i64> {
    let s = match v {
        ValueRef::Integer(i) => return Some(i),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim(),
        _ => return None,
    };
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if let Some(body) = rest.strip_prefix('P') {
        let mut total: i128 = 0;
        let mut in_time = false;
        let mut number = String::new();
        for c in body.chars() {
            match c {
                'T' if number.is_empty() => in_time = true,
                '0'..='9' | '.' => number.push(c),
                unit => {
                    let scale: i128 = match (in_time, unit) {
                        (false, 'W') => 7 * 86_400_000_000,
                        (false, 'D') => 86_400_000_000,
                        (true, 'H') => 3_600_000_000,
                        (true, 'M') => 60_000_000,
                        (true, 'S') => 1_000_000,
                        _ => return None,
                    };
                    let (whole, frac) = number.split_once('.').unwrap_or((&number, ""));
                    let mut part = whole.parse::<i128>().ok()? * scale;
                    let mut unit_value = scale;
                    for d in frac.chars() {
                        unit_value /= 10;
                        let d = i128::from(d.to_digit(10)?);
                        if unit_value == 0 && d != 0 {
                            return None;
                        }
                        part += d * unit_value;
                    }
                    total += part;
                    number.clear();
                }
            }
        }
        if !number.is_empty() {
            return None;
        }
        let total = i64::try_from(total).ok()?;
        return Some(if negative { -total } else { total });
    }
    let p = Iso::parse(s)?;
    match (p.date, p.offset) {
        (Some(days), None) => Some(days * MICROS_PER_DAY + p.micros.unwrap_or(0)),
        _ => None,
    }
}

/// An address with its prefix length, canonical: family (4 or 6), bits, address bytes.
pub(super) fn inet(s: &str, out: &mut Vec<u8>) -> Option<()> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let (family, bytes): (u8, Vec<u8>) = match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v) => (4, v.octets().to_vec()),
        std::net::IpAddr::V6(v) => (6, v.octets().to_vec()),
    };
    let bits = bits.unwrap_or((bytes.len() * 8) as u8);
    out.extend_from_slice(&[INET, family, bits]);
    out.extend_from_slice(&bytes);
    Some(())
}

/// The instant a wall time (microseconds since 1970 read as UTC) stands for in `zone`, by
/// verification's own reading of the zone's rules; `None` in a daylight-saving gap or fold.
fn zone_utc(zone: crate::plan::SourceZone, local: i64) -> Option<i64> {
    match zone {
        crate::plan::SourceZone::Offset(o) => Some(local - i64::from(o) * 1_000_000),
        crate::plan::SourceZone::Named(z) => {
            let wall =
                jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::from_microsecond(local).ok()?);
            let t = z.tz().to_ambiguous_timestamp(wall).unambiguous().ok()?;
            Some(t.as_microsecond())
        }
    }
}
