//! Recognising the date and time shapes SQLite applications store.
//!
//! SQLite has no date type: applications store ISO-8601 text, unix epochs (seconds,
//! milliseconds, microseconds) or julian day numbers. A value counts as a timestamp only if
//! PostgreSQL can hold it exactly: a real calendar date, at most microsecond precision, and
//! for numbers a conversion that round-trips bit for bit.

use serde::Serialize;

/// The shape of one text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextShape {
    /// `YYYY-MM-DD`.
    Date,
    /// Date and time without an offset.
    Naive,
    /// Date and time with `Z` or `±HH:MM`.
    WithOffset,
    /// `HH:MM[:SS[.f]]`.
    Time,
    /// Time with an offset.
    TimeWithOffset,
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    s.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn date_at(b: &[u8]) -> Option<(i32, u32, u32)> {
    let y = digits(b, 0, 4)?;
    let m = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    (b[4] == b'-'
        && b[7] == b'-'
        && y >= 1
        && (1..=12).contains(&m)
        && d >= 1
        && d <= days_in_month(y, m))
    .then_some((y as i32, m, d))
}

/// Parses `HH:MM[:SS[.ffffff]]` at the start of `b`: microseconds since midnight and bytes
/// consumed.
fn time_at(b: &[u8]) -> Option<(i64, usize)> {
    let h = digits(b, 0, 2)?;
    let mi = digits(b, 3, 2)?;
    if b.get(2) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    let mut used = 5;
    let mut micros = (i64::from(h) * 60 + i64::from(mi)) * 60_000_000;
    if b.get(5) == Some(&b':') {
        let s = digits(b, 6, 2)?;
        if s > 59 {
            return None;
        }
        micros += i64::from(s) * 1_000_000;
        used = 8;
        if b.get(8) == Some(&b'.') {
            let frac = b[9..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac == 0 || frac > 6 {
                return None;
            }
            let f = digits(b, 9, frac)?;
            micros += i64::from(f) * 10i64.pow(6 - frac as u32);
            used = 9 + frac;
        }
    }
    Some((micros, used))
}

/// Parses `Z`, `±HH:MM`, `±HHMM` or `±HH` making up all of `b`: seconds east of UTC.
fn offset(b: &[u8]) -> Option<i32> {
    match b {
        [b'Z'] | [b'z'] => Some(0),
        [s, rest @ ..] if *s == b'+' || *s == b'-' => {
            let h = digits(rest, 0, 2).filter(|h| *h <= 15)?;
            let m = match rest.len() {
                2 => 0,
                4 => digits(rest, 2, 2)?,
                5 if rest[2] == b':' => digits(rest, 3, 2)?,
                _ => return None,
            };
            if m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            Some(if *s == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

/// A date or time text taken apart; what the copier encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Year, month, day, when the text has a date.
    pub date: Option<(i32, u32, u32)>,
    /// Microseconds since midnight, when the text has a time of day.
    pub time: Option<i64>,
    /// Seconds east of UTC, when the text has an offset.
    pub offset: Option<i32>,
}

impl Parsed {
    /// The shape this value has.
    pub fn shape(&self) -> TextShape {
        match (self.date, self.time, self.offset) {
            (Some(_), None, _) => TextShape::Date,
            (Some(_), Some(_), None) => TextShape::Naive,
            (Some(_), Some(_), Some(_)) => TextShape::WithOffset,
            (None, _, None) => TextShape::Time,
            (None, _, Some(_)) => TextShape::TimeWithOffset,
        }
    }

    /// Days since 1970-01-01 of the date part.
    pub fn unix_days(&self) -> Option<i64> {
        self.date.map(|(y, m, d)| days_from_civil(y, m, d))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a text value, or `None` when it is not a date or time PostgreSQL holds exactly.
pub fn parse_text(s: &str) -> Option<Parsed> {
    let b = s.as_bytes();
    if b.len() >= 10 {
        if let Some(date) = date_at(b) {
            if b.len() == 10 {
                return Some(Parsed {
                    date: Some(date),
                    time: None,
                    offset: None,
                });
            }
            if b[10] != b' ' && b[10] != b'T' {
                return None;
            }
            let (time, used) = time_at(&b[11..])?;
            let rest = &b[11 + used..];
            let offset = if rest.is_empty() {
                None
            } else {
                Some(offset(rest)?)
            };
            return Some(Parsed {
                date: Some(date),
                time: Some(time),
                offset,
            });
        }
    }
    let (time, used) = time_at(b)?;
    let rest = &b[used..];
    let offset = if rest.is_empty() {
        None
    } else {
        Some(offset(rest)?)
    };
    Some(Parsed {
        date: None,
        time: Some(time),
        offset,
    })
}

/// Classifies a text value, or `None` when it is not a date or time PostgreSQL holds exactly.
pub fn text_shape(s: &str) -> Option<TextShape> {
    parse_text(s).map(|p| p.shape())
}

/// The unit of a unix epoch stored as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochUnit {
    /// Seconds since 1970.
    Seconds,
    /// Milliseconds since 1970.
    Millis,
    /// Microseconds since 1970.
    Micros,
}

/// Guesses the epoch unit from magnitude: seconds up to year 5138, then ms, then µs.
/// Negative values are not guessed: they are rare and ambiguous.
pub fn epoch_unit(v: i64) -> Option<EpochUnit> {
    match v {
        0..=99_999_999_999 => Some(EpochUnit::Seconds),
        100_000_000_000..=99_999_999_999_999 => Some(EpochUnit::Millis),
        100_000_000_000_000..=99_999_999_999_999_999 => Some(EpochUnit::Micros),
        _ => None,
    }
}

const UNIX_EPOCH_JD: f64 = 2_440_587.5;
const MICROS_PER_DAY: f64 = 86_400_000_000.0;

/// Microseconds since 1970 of a julian day number accepted by [`julian_exact`].
pub fn julian_to_unix_micros(v: f64) -> i64 {
    ((v - UNIX_EPOCH_JD) * MICROS_PER_DAY).round() as i64
}

/// True when a real is a julian day in years 1..9999 that survives the trip to a
/// microsecond timestamp and back bit for bit.
pub fn julian_exact(v: f64) -> bool {
    if !(1_721_425.5..=5_373_484.5).contains(&v) {
        return false;
    }
    let micros = ((v - UNIX_EPOCH_JD) * MICROS_PER_DAY).round();
    micros / MICROS_PER_DAY + UNIX_EPOCH_JD == v
}

/// RFC 3339 (UTC, seconds) of a time.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        civil_from_days(days),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
pub fn civil_from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_iso_shapes_and_refuses_impossible_dates() {
        assert_eq!(text_shape("2024-02-29"), Some(TextShape::Date));
        assert_eq!(text_shape("2023-02-29"), None);
        assert_eq!(text_shape("2024-01-05 10:00:00"), Some(TextShape::Naive));
        assert_eq!(
            text_shape("2024-01-05T10:00:00.123456"),
            Some(TextShape::Naive)
        );
        assert_eq!(text_shape("2024-01-05T10:00:00.1234567"), None);
        assert_eq!(text_shape("2024-01-05T10:00Z"), Some(TextShape::WithOffset));
        assert_eq!(
            text_shape("2024-01-05 10:00:00+05:30"),
            Some(TextShape::WithOffset)
        );
        assert_eq!(text_shape("10:00"), Some(TextShape::Time));
        assert_eq!(text_shape("24:00"), None);
        assert_eq!(text_shape("0000-00-00 00:00:00"), None);
        assert_eq!(text_shape("yesterday"), None);
    }

    #[test]
    fn parses_the_parts_the_copier_encodes() {
        let p = parse_text("2024-01-05T10:00:00.25+05:30").unwrap();
        assert_eq!(p.date, Some((2024, 1, 5)));
        assert_eq!(p.time, Some(36_000_250_000));
        assert_eq!(p.offset, Some(19_800));
        assert_eq!(parse_text("10:00-08").unwrap().offset, Some(-28_800));
        assert_eq!(parse_text("2000-01-01").unwrap().unix_days(), Some(10_957));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
    }

    #[test]
    fn julian_days_are_only_accepted_when_exact() {
        assert!(julian_exact(2_460_000.5));
        assert!(!julian_exact(12.0));
        // Near today a double step is ~40 µs, so every julian day there survives the trip.
        assert!(julian_exact(2_460_000.123_456_789));
        assert!(!julian_exact(f64::INFINITY));
    }

    #[test]
    fn rfc3339_counts_days_like_the_calendar() {
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_709_210_096);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
        assert_eq!(
            rfc3339(std::time::SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(civil_from_days(19_782), "2024-02-29");
    }

    #[test]
    fn epoch_units_follow_magnitude() {
        assert_eq!(epoch_unit(1_700_000_000), Some(EpochUnit::Seconds));
        assert_eq!(epoch_unit(1_669_408_465_582), Some(EpochUnit::Millis));
        assert_eq!(epoch_unit(1_309_518_981_371_935), Some(EpochUnit::Micros));
        assert_eq!(epoch_unit(-5), None);
    }
}
