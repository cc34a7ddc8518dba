//! One streaming pass over a table that records what is really stored in each column.
//!
//! SQLite is dynamically typed, so the declared type is only a hint (DESIGN.md rule 2).
//! The profile counts storage classes and the shapes of the values (timestamps, booleans,
//! JSON, UUIDs, decimal digits) in fixed-size counters: memory does not grow with the
//! table, only a first example of each kind of value is kept for the report.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Serialize;

use super::temporal::{self, EpochUnit, TextShape};
use crate::pg::quote_ident;

/// How many characters of an example value are kept.
const SAMPLE_CHARS: usize = 40;

/// Extra checks a column's declared type asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// Count decimal digits of numbers (declared DECIMAL/NUMERIC with precision).
    pub decimal: bool,
    /// Validate every text as JSON (declared JSON).
    pub json: bool,
    /// Classify texts as dates and times, booleans and UUIDs (declared types that propose
    /// one of those; for any other column the counts would decide nothing).
    pub shapes: bool,
    /// Count texts with letters beyond ASCII that have a case (declared `COLLATE NOCASE`,
    /// which folds A-Z only, where citext folds them all).
    pub nocase: bool,
}

/// Storage classes seen in a column.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StorageCounts {
    /// NULL values.
    pub null: u64,
    /// INTEGER values.
    pub integer: u64,
    /// REAL values.
    pub real: u64,
    /// TEXT values.
    pub text: u64,
    /// BLOB values.
    pub blob: u64,
}

impl StorageCounts {
    /// Values that are not NULL.
    pub fn non_null(&self) -> u64 {
        self.integer + self.real + self.text + self.blob
    }

    /// Adds another part's counts.
    pub fn add(&mut self, o: &StorageCounts) {
        self.null += o.null;
        self.integer += o.integer;
        self.real += o.real;
        self.text += o.text;
        self.blob += o.blob;
    }

    /// How many different non-NULL storage classes occur.
    pub fn classes(&self) -> usize {
        [self.integer, self.real, self.text, self.blob]
            .iter()
            .filter(|&&n| n > 0)
            .count()
    }
}

/// What one column holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ColumnProfile {
    /// Storage classes.
    pub counts: StorageCounts,
    /// Smallest integer.
    pub int_min: Option<i64>,
    /// Largest integer.
    pub int_max: Option<i64>,
    /// Integers equal to 0 or 1.
    pub int_bool: u64,
    /// Integers per plausible epoch unit: seconds, milliseconds, microseconds.
    pub int_epoch: [u64; 3],
    /// Reals that are +/-infinity.
    pub real_nonfinite: u64,
    /// Reals with no fractional part.
    pub real_integral: u64,
    /// Reals that are exact julian day numbers.
    pub real_julian: u64,
    /// Most digits before the decimal point among numbers (with `Needs::decimal`).
    pub max_int_digits: u32,
    /// Most digits after the decimal point among numbers (with `Needs::decimal`).
    pub max_frac_digits: u32,
    /// Longest text in characters.
    pub text_max_chars: u64,
    /// Longest text in bytes.
    pub text_max_bytes: u64,
    /// Texts containing a NUL byte.
    pub text_nul: u64,
    /// Texts that are not valid UTF-8.
    pub text_invalid_utf8: u64,
    /// Texts of a NOCASE column with a letter beyond ASCII that has a case (`É`, `ß`).
    pub text_non_ascii_cased: u64,
    /// Texts that are a boolean spelling PostgreSQL accepts.
    pub text_bool: u64,
    /// Texts shaped `YYYY-MM-DD`.
    pub text_date: u64,
    /// Texts that are a date and time without offset.
    pub text_naive: u64,
    /// Texts that are a date and time with an offset or `Z`.
    pub text_offset: u64,
    /// Texts that are a time of day.
    pub text_time: u64,
    /// Texts that are a time of day with an offset.
    pub text_time_offset: u64,
    /// Texts checked for JSON.
    pub text_json_checked: u64,
    /// Texts that are valid JSON.
    pub text_json: u64,
    /// Valid JSON texts that jsonb would refuse (`\u0000`).
    pub text_json_nul: u64,
    /// Texts that are UUIDs.
    pub text_uuid: u64,
    /// Longest blob in bytes.
    pub blob_max_bytes: u64,
    /// Blobs of exactly 16 bytes.
    pub blob16: u64,
    /// First value of each storage class, for reports.
    pub samples: Samples,
    /// First text that is not a date or time, for reports.
    pub non_temporal_text: Option<String>,
}

/// First value seen of each storage class, shortened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Samples {
    /// An INTEGER.
    pub integer: Option<String>,
    /// A REAL.
    pub real: Option<String>,
    /// A TEXT.
    pub text: Option<String>,
    /// A BLOB, hex.
    pub blob: Option<String>,
    /// A text that is not JSON, or that jsonb refuses (checked for JSON columns).
    pub not_json: Option<String>,
    /// A text that is not a UUID (checked for text shapes).
    pub not_uuid: Option<String>,
    /// A value that is neither 0/1 nor a boolean spelling (checked for text shapes).
    pub not_bool: Option<String>,
    /// A text counted in `text_non_ascii_cased`.
    pub non_ascii_cased: Option<String>,
}

/// What a whole table holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableProfile {
    /// Rows read.
    pub rows: u64,
    /// Largest rowid, for rowid tables.
    pub max_rowid: Option<i64>,
    /// Per column, in the order asked for.
    pub columns: Vec<ColumnProfile>,
}

impl TableProfile {
    /// Folds in the profile of the next rowid range of the same table.
    pub fn merge(&mut self, o: &TableProfile) {
        self.rows += o.rows;
        self.max_rowid = match (self.max_rowid, o.max_rowid) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if self.columns.is_empty() {
            self.columns = vec![ColumnProfile::default(); o.columns.len()];
        }
        for (a, b) in self.columns.iter_mut().zip(&o.columns) {
            a.merge(b);
        }
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= SAMPLE_CHARS {
        s.to_string()
    } else {
        let cut: String = s.chars().take(SAMPLE_CHARS).collect();
        format!("{cut}…")
    }
}

fn is_bool_spelling(s: &str) -> bool {
    const SPELLINGS: [&str; 12] = [
        "t", "true", "y", "yes", "on", "1", "f", "false", "n", "no", "off", "0",
    ];
    let t = s.trim();
    SPELLINGS.iter().any(|w| t.eq_ignore_ascii_case(w))
}

/// True for the UUID spellings PostgreSQL's uuid input accepts that lite2pg recognises:
/// 8-4-4-4-12 hex, optionally in braces, or 32 hex digits.
pub fn is_uuid_text(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = if b.len() == 38 && b[0] == b'{' && b[37] == b'}' {
        &b[1..37]
    } else {
        b
    };
    match inner.len() {
        32 => inner.iter().all(u8::is_ascii_hexdigit),
        36 => inner.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        }),
        _ => false,
    }
}

/// Counts digits before and after the point in the shortest exact decimal form.
fn decimal_digits(repr: &str) -> (u32, u32) {
    let repr = repr.trim_start_matches('-');
    if repr.contains(['e', 'E']) {
        // Exponent form only appears for very large or small magnitudes; treat it as
        // not fitting any declared precision.
        return (u32::MAX / 2, u32::MAX / 2);
    }
    let (int, frac) = repr.split_once('.').unwrap_or((repr, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    (int.len() as u32, frac.len() as u32)
}

impl ColumnProfile {
    /// Folds in the profile of a later part of the same column (a later rowid range), so
    /// a table profiled in parts gives the profile it would have given in one pass.
    pub fn merge(&mut self, o: &ColumnProfile) {
        self.counts.add(&o.counts);
        self.int_min = match (self.int_min, o.int_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.int_max = match (self.int_max, o.int_max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (a, b) in [
            (&mut self.int_bool, o.int_bool),
            (&mut self.real_nonfinite, o.real_nonfinite),
            (&mut self.real_integral, o.real_integral),
            (&mut self.real_julian, o.real_julian),
            (&mut self.text_nul, o.text_nul),
            (&mut self.text_invalid_utf8, o.text_invalid_utf8),
            (&mut self.text_non_ascii_cased, o.text_non_ascii_cased),
            (&mut self.text_bool, o.text_bool),
            (&mut self.text_date, o.text_date),
            (&mut self.text_naive, o.text_naive),
            (&mut self.text_offset, o.text_offset),
            (&mut self.text_time, o.text_time),
            (&mut self.text_time_offset, o.text_time_offset),
            (&mut self.text_json_checked, o.text_json_checked),
            (&mut self.text_json, o.text_json),
            (&mut self.text_json_nul, o.text_json_nul),
            (&mut self.text_uuid, o.text_uuid),
            (&mut self.blob16, o.blob16),
        ] {
            *a += b;
        }
        for (a, b) in self.int_epoch.iter_mut().zip(o.int_epoch) {
            *a += b;
        }
        self.max_int_digits = self.max_int_digits.max(o.max_int_digits);
        self.max_frac_digits = self.max_frac_digits.max(o.max_frac_digits);
        self.text_max_chars = self.text_max_chars.max(o.text_max_chars);
        self.text_max_bytes = self.text_max_bytes.max(o.text_max_bytes);
        self.blob_max_bytes = self.blob_max_bytes.max(o.blob_max_bytes);
        let first = |a: &mut Option<String>, b: &Option<String>| {
            if a.is_none() {
                a.clone_from(b);
            }
        };
        first(&mut self.samples.integer, &o.samples.integer);
        first(&mut self.samples.real, &o.samples.real);
        first(&mut self.samples.text, &o.samples.text);
        first(&mut self.samples.blob, &o.samples.blob);
        first(&mut self.samples.not_json, &o.samples.not_json);
        first(&mut self.samples.not_uuid, &o.samples.not_uuid);
        first(&mut self.samples.not_bool, &o.samples.not_bool);
        first(
            &mut self.samples.non_ascii_cased,
            &o.samples.non_ascii_cased,
        );
        first(&mut self.non_temporal_text, &o.non_temporal_text);
    }

    fn observe(&mut self, v: ValueRef<'_>, needs: Needs) {
        match v {
            ValueRef::Null => self.counts.null += 1,
            ValueRef::Integer(i) => self.observe_int(i, needs),
            ValueRef::Real(f) => self.observe_real(f, needs),
            ValueRef::Text(bytes) => self.observe_text(bytes, needs),
            ValueRef::Blob(bytes) => {
                self.counts.blob += 1;
                self.blob_max_bytes = self.blob_max_bytes.max(bytes.len() as u64);
                if bytes.len() == 16 {
                    self.blob16 += 1;
                }
                if self.samples.blob.is_none() {
                    let hex: String = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
                    self.samples.blob = Some(format!(
                        "x'{hex}{}'",
                        if bytes.len() > 16 { "…" } else { "" }
                    ));
                }
            }
        }
    }

    fn observe_int(&mut self, i: i64, needs: Needs) {
        self.counts.integer += 1;
        self.int_min = Some(self.int_min.map_or(i, |m| m.min(i)));
        self.int_max = Some(self.int_max.map_or(i, |m| m.max(i)));
        if i == 0 || i == 1 {
            self.int_bool += 1;
        } else if self.samples.not_bool.is_none() {
            self.samples.not_bool = Some(i.to_string());
        }
        match temporal::epoch_unit(i) {
            Some(EpochUnit::Seconds) => self.int_epoch[0] += 1,
            Some(EpochUnit::Millis) => self.int_epoch[1] += 1,
            Some(EpochUnit::Micros) => self.int_epoch[2] += 1,
            None => {}
        }
        if needs.decimal {
            let (d, _) = decimal_digits(&i.to_string());
            self.max_int_digits = self.max_int_digits.max(d);
        }
        if self.samples.integer.is_none() {
            self.samples.integer = Some(i.to_string());
        }
    }

    fn observe_real(&mut self, f: f64, needs: Needs) {
        self.counts.real += 1;
        if !f.is_finite() {
            self.real_nonfinite += 1;
        } else if f.fract() == 0.0 {
            self.real_integral += 1;
        }
        if temporal::julian_exact(f) {
            self.real_julian += 1;
        }
        if needs.decimal && f.is_finite() {
            let (d, s) = decimal_digits(&format!("{f:?}"));
            self.max_int_digits = self.max_int_digits.max(d);
            self.max_frac_digits = self.max_frac_digits.max(s);
        }
        if self.samples.real.is_none() {
            self.samples.real = Some(format!("{f:?}"));
        }
    }

    fn observe_shapes(&mut self, s: &str) {
        let bytes = s.as_bytes();
        if bytes.len() <= 16 && is_bool_spelling(s) {
            self.text_bool += 1;
        } else if self.samples.not_bool.is_none() {
            self.samples.not_bool = Some(shorten(s));
        }
        let shape = match bytes.first() {
            Some(b) if b.is_ascii_digit() => temporal::text_shape(s),
            _ => None,
        };
        match shape {
            Some(TextShape::Date) => self.text_date += 1,
            Some(TextShape::Naive) => self.text_naive += 1,
            Some(TextShape::WithOffset) => self.text_offset += 1,
            Some(TextShape::Time) => self.text_time += 1,
            Some(TextShape::TimeWithOffset) => self.text_time_offset += 1,
            None => {
                if self.non_temporal_text.is_none() {
                    self.non_temporal_text = Some(shorten(s));
                }
            }
        }
        if matches!(bytes.len(), 32 | 36 | 38) && is_uuid_text(s) {
            self.text_uuid += 1;
        } else if self.samples.not_uuid.is_none() {
            self.samples.not_uuid = Some(shorten(s));
        }
    }

    fn observe_text(&mut self, bytes: &[u8], needs: Needs) {
        self.counts.text += 1;
        self.text_max_bytes = self.text_max_bytes.max(bytes.len() as u64);
        if bytes.contains(&0) {
            self.text_nul += 1;
        }
        let Ok(s) = simdutf8::basic::from_utf8(bytes) else {
            self.text_invalid_utf8 += 1;
            return;
        };
        // The checks below are cut short by length and first byte where they cannot match:
        // this loop sees every text value of the database.
        if bytes.len() as u64 > self.text_max_chars {
            self.text_max_chars = self.text_max_chars.max(s.chars().count() as u64);
        }
        if self.samples.text.is_none() {
            self.samples.text = Some(shorten(s));
        }
        if needs.shapes {
            self.observe_shapes(s);
        }
        if needs.nocase
            && !s.is_ascii()
            && s.chars()
                .any(|c| !c.is_ascii() && (c.is_lowercase() || c.is_uppercase()))
        {
            self.text_non_ascii_cased += 1;
            if self.samples.non_ascii_cased.is_none() {
                self.samples.non_ascii_cased = Some(shorten(s));
            }
        }
        if needs.json {
            self.text_json_checked += 1;
            if serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok() {
                self.text_json += 1;
                if s.contains("\\u0000") {
                    self.text_json_nul += 1;
                    if self.samples.not_json.is_none() {
                        self.samples.not_json = Some(shorten(s));
                    }
                }
            } else if self.samples.not_json.is_none() {
                self.samples.not_json = Some(shorten(s));
            }
        }
        if needs.decimal {
            if let Ok(f) = s.trim().parse::<f64>() {
                if f.is_finite() {
                    let (d, sc) = decimal_digits(s.trim());
                    self.max_int_digits = self.max_int_digits.max(d);
                    self.max_frac_digits = self.max_frac_digits.max(sc);
                }
            }
        }
    }
}

/// Reads every row of `table` once and profiles the named columns.
///
/// `with_rowid` also records the largest rowid. Errors are SQLite's, for the caller to put
/// in context.
pub fn profile_table(
    conn: &Connection,
    table: &str,
    columns: &[(String, Needs)],
    with_rowid: bool,
) -> rusqlite::Result<TableProfile> {
    profile_part(conn, table, columns, with_rowid, None)
}

/// Profiles the rows of a rowid table whose rowid is in `(lo, hi]` (`None`: unbounded), one
/// part of a large table profiled on several threads; parts combine with
/// [`TableProfile::merge`].
pub fn profile_part(
    conn: &Connection,
    table: &str,
    columns: &[(String, Needs)],
    with_rowid: bool,
    range: Option<(Option<i64>, Option<i64>)>,
) -> rusqlite::Result<TableProfile> {
    // SQLite returns at most 2000 columns a row: a wider table is profiled in column groups
    // (the rowid with the first), each a pass of its own.
    if columns.len() >= COLUMN_GROUP {
        let mut whole: Option<TableProfile> = None;
        for (i, group) in columns.chunks(COLUMN_GROUP - 1).enumerate() {
            let part = profile_columns(conn, table, group, with_rowid && i == 0, range)?;
            match &mut whole {
                None => whole = Some(part),
                Some(w) => w.columns.extend(part.columns),
            }
        }
        return Ok(whole.unwrap_or_default());
    }
    profile_columns(conn, table, columns, with_rowid, range)
}

/// Columns profiled in one pass: under SQLite's 2000-column result limit with room for the
/// rowid.
const COLUMN_GROUP: usize = 1000;

fn profile_columns(
    conn: &Connection,
    table: &str,
    columns: &[(String, Needs)],
    with_rowid: bool,
    range: Option<(Option<i64>, Option<i64>)>,
) -> rusqlite::Result<TableProfile> {
    let mut select: Vec<String> = columns.iter().map(|(c, _)| quote_ident(c)).collect();
    if with_rowid {
        select.push("_rowid_".into());
    }
    if select.is_empty() {
        select.push("NULL".into());
    }
    let mut sql = format!("SELECT {} FROM {}", select.join(", "), quote_ident(table));
    let mut params: Vec<i64> = Vec::new();
    if let Some((lo, hi)) = range {
        super::rowid_range(&mut sql, &mut params, lo, hi);
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut profile = TableProfile {
        columns: vec![ColumnProfile::default(); columns.len()],
        ..Default::default()
    };
    while let Some(row) = rows.next()? {
        profile.rows += 1;
        for (i, (_, needs)) in columns.iter().enumerate() {
            profile.columns[i].observe(row.get_ref(i)?, *needs);
        }
        if with_rowid {
            if let ValueRef::Integer(r) = row.get_ref(columns.len())? {
                profile.max_rowid = Some(profile.max_rowid.map_or(r, |m| m.max(r)));
            }
        }
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits_use_the_shortest_exact_form() {
        assert_eq!(decimal_digits("123.4500"), (3, 2));
        assert_eq!(decimal_digits("-0.5"), (0, 1));
        assert_eq!(decimal_digits("42"), (2, 0));
    }

    #[test]
    fn a_table_profiled_in_rowid_ranges_gives_the_profile_of_one_pass() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a, b TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
             INSERT INTO t SELECT CASE WHEN i % 7 = 0 THEN 'x' || i ELSE i * 1.5 END,
                                  CASE WHEN i % 11 = 0 THEN NULL ELSE printf('2024-01-%02d', 1 + i % 28) END
             FROM n;",
        )
        .unwrap();
        let needs = Needs {
            shapes: true,
            ..Needs::default()
        };
        let cols = vec![("a".to_string(), needs), ("b".to_string(), needs)];
        let whole = profile_table(&conn, "t", &cols, true).unwrap();
        let mut parts = TableProfile::default();
        for range in [(None, Some(100)), (Some(100), Some(333)), (Some(333), None)] {
            parts.merge(&profile_part(&conn, "t", &cols, true, Some(range)).unwrap());
        }
        assert_eq!(format!("{whole:?}"), format!("{parts:?}"));
    }

    #[test]
    fn uuid_spellings() {
        assert!(is_uuid_text("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_uuid_text("{123E4567-E89B-12D3-A456-426614174000}"));
        assert!(is_uuid_text("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid_text("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
