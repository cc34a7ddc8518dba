//! Durations as the frameworks keep them in SQLite, for `interval` columns: ISO-8601
//! `P…` text, or a date-time counted from 1970-01-01 (SQLAlchemy); integers are
//! microseconds (Django) and need no parsing.

use crate::sqlite::temporal;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Microseconds of a duration written as text: an ISO-8601 duration (`P1DT2H3.5S`), or a
/// date-time measured from 1970-01-01 00:00 (how SQLAlchemy keeps `Interval` in SQLite).
pub fn interval_micros(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Some(p) = s.strip_prefix('P').or_else(|| s.strip_prefix("-P")) {
        let negative = s.starts_with('-');
        let micros = iso_duration(p).ok_or_else(|| {
            format!("'{s}' is not an ISO-8601 duration in days, hours, minutes and seconds")
        })?;
        return Ok(if negative { -micros } else { micros });
    }
    let p = temporal::parse_text(s)
        .filter(|p| p.offset.is_none() && p.date.is_some())
        .ok_or_else(|| {
            format!(
                "'{s}' is not a duration: neither an ISO-8601 `P…` duration nor a date-time                  counted from 1970-01-01"
            )
        })?;
    Ok(p.unix_days().unwrap_or(0) * MICROS_PER_DAY + p.time.unwrap_or(0))
}

/// `[nW][nD][T[nH][nM][n[.f]S]]` after the `P`; years and months are refused (their
/// length depends on the calendar, so no exact number of microseconds stands for them).
fn iso_duration(p: &str) -> Option<i64> {
    let (date, time) = match p.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (p, None),
    };
    let mut micros: i64 = 0;
    let mut any = false;
    // Each part is `<number><unit>`; the number is a slice of the text, never copied.
    let mut take = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut start = 0;
        for (i, c) in part.char_indices() {
            if c.is_ascii_digit() || c == '.' {
                continue;
            }
            let &(_, scale) = units.iter().find(|(u, _)| *u == c)?;
            let value = parse_fixed(&part[start..i], scale)?;
            micros = micros.checked_add(value)?;
            start = i + c.len_utf8();
            any = true;
        }
        (start == part.len()).then_some(())
    };
    take(date, &[('W', 7 * MICROS_PER_DAY), ('D', MICROS_PER_DAY)])?;
    if let Some(t) = time {
        take(
            t,
            &[('H', 3_600_000_000), ('M', 60_000_000), ('S', 1_000_000)],
        )?;
    }
    any.then_some(micros)
}

/// `digits[.fraction]` times `scale`, exactly (a fraction finer than a microsecond fails).
fn parse_fixed(num: &str, scale: i64) -> Option<i64> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let whole = if int.is_empty() {
        0
    } else {
        int.parse::<i64>().ok()?
    };
    let mut value = whole.checked_mul(scale)?;
    let mut unit = scale;
    for d in frac.chars() {
        unit /= 10;
        let digit = i64::from(d.to_digit(10)?);
        if unit == 0 {
            if digit != 0 {
                return None;
            }
            continue;
        }
        value = value.checked_add(digit * unit)?;
    }
    Some(value)
}
