//! The plan's vocabulary: the PostgreSQL types lite2pg emits, how a SQLite value is
//! converted into each, and the policies a user chooses (names, type conflicts).
//!
//! These live with the plan, below the translator that chooses them, because every later
//! stage (copier, verifier, appliers) reads them from a plan, stored or fresh, without
//! needing the translator.

use std::fmt;

use serde::Serialize;

use crate::sqlite::temporal::EpochUnit;

/// How names are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdentPolicy {
    /// Lower-case names that are plain identifiers (the default).
    #[default]
    Lower,
    /// Keep every name exactly as SQLite has it.
    Preserve,
}

/// What to do with a column whose values span several storage classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TypeConflicts {
    /// Choose a type that holds every value (text, or bytea when blobs are present).
    #[default]
    Widen,
    /// Choose the majority's type; the other rows go to the reject file.
    Reject,
}

/// What to do with text PostgreSQL's text types cannot hold (a NUL byte, invalid UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InvalidText {
    /// The row goes to the reject file.
    #[default]
    Reject,
    /// The column becomes `bytea`, carrying every value's bytes exactly.
    Bytea,
    /// NUL bytes are removed and invalid UTF-8 replaced by U+FFFD; each such value is
    /// listed in the reject file as carried.
    Clean,
}

/// The PostgreSQL types lite2pg writes: those its translator emits, and those a
/// framework's schema holds that `--data-only` loads into (the last group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PgType {
    /// `boolean`
    Boolean,
    /// `smallint`
    SmallInt,
    /// `integer`
    Integer,
    /// `bigint`
    BigInt,
    /// `double precision`
    Double,
    /// `numeric` or `numeric(p,s)`
    Numeric(Option<(u32, u32)>),
    /// `text`
    Text,
    /// `varchar(n)`
    Varchar(u32),
    /// `citext`: case-insensitive text, for `COLLATE NOCASE`.
    Citext,
    /// `bytea`
    Bytea,
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
    /// `jsonb`
    Jsonb,
    /// `uuid`
    Uuid,
    /// `real` (4 bytes): only values it holds exactly.
    Real,
    /// `interval`
    Interval,
    /// `json` (kept as written)
    Json,
    /// `character(n)`: blank-padded.
    Char(u32),
    /// An enum type: SQLite text carried as the label, checked by the server.
    Enum,
    /// `inet`
    Inet,
    /// `cidr`
    Cidr,
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgType::Boolean => f.write_str("boolean"),
            PgType::SmallInt => f.write_str("smallint"),
            PgType::Integer => f.write_str("integer"),
            PgType::BigInt => f.write_str("bigint"),
            PgType::Double => f.write_str("double precision"),
            PgType::Numeric(None) => f.write_str("numeric"),
            PgType::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            PgType::Text => f.write_str("text"),
            PgType::Varchar(n) => write!(f, "varchar({n})"),
            PgType::Citext => f.write_str("citext"),
            PgType::Bytea => f.write_str("bytea"),
            PgType::Date => f.write_str("date"),
            PgType::Time => f.write_str("time"),
            PgType::TimeTz => f.write_str("timetz"),
            PgType::Timestamp => f.write_str("timestamp"),
            PgType::TimestampTz => f.write_str("timestamptz"),
            PgType::Jsonb => f.write_str("jsonb"),
            PgType::Uuid => f.write_str("uuid"),
            PgType::Real => f.write_str("real"),
            PgType::Interval => f.write_str("interval"),
            PgType::Json => f.write_str("json"),
            PgType::Char(n) => write!(f, "character({n})"),
            PgType::Enum => f.write_str("an enum type"),
            PgType::Inet => f.write_str("inet"),
            PgType::Cidr => f.write_str("cidr"),
        }
    }
}

impl PgType {
    /// Reads back the SQL this type prints as (a plan stored in the control schema keeps only
    /// the text).
    pub fn from_sql(sql: &str) -> Option<PgType> {
        // format_type's spellings (an adopted schema's types are stored as the catalog
        // prints them), without the fractional-second precision that changes nothing here.
        let spelled = sql.trim();
        let plain = ["timestamp(", "time("].iter().find_map(|stem| {
            let (digits, after) = spelled.strip_prefix(stem)?.split_once(')')?;
            digits
                .chars()
                .all(|c| c.is_ascii_digit())
                .then(|| format!("{}{after}", &stem[..stem.len() - 1]))
        });
        let rest = plain.as_deref().unwrap_or(spelled);
        let sql = match rest {
            "timestamp with time zone" => "timestamptz",
            "timestamp without time zone" => "timestamp",
            "time with time zone" => "timetz",
            "time without time zone" => "time",
            "character varying" => "text",
            other => other,
        };
        let args = |prefix: &str| -> Option<Vec<u32>> {
            let rest = sql
                .strip_prefix(prefix)?
                .strip_prefix('(')?
                .strip_suffix(')')?;
            rest.split(',').map(|n| n.trim().parse().ok()).collect()
        };
        Some(match sql {
            "boolean" => PgType::Boolean,
            "smallint" => PgType::SmallInt,
            "integer" => PgType::Integer,
            "bigint" => PgType::BigInt,
            "double precision" => PgType::Double,
            "numeric" => PgType::Numeric(None),
            "text" => PgType::Text,
            "citext" => PgType::Citext,
            "bytea" => PgType::Bytea,
            "date" => PgType::Date,
            "time" => PgType::Time,
            "timetz" => PgType::TimeTz,
            "timestamp" => PgType::Timestamp,
            "timestamptz" => PgType::TimestampTz,
            "jsonb" => PgType::Jsonb,
            "uuid" => PgType::Uuid,
            "real" => PgType::Real,
            "interval" => PgType::Interval,
            "json" => PgType::Json,
            "inet" => PgType::Inet,
            "cidr" => PgType::Cidr,
            _ => {
                if let Some(a) = args("numeric") {
                    match a[..] {
                        [p, s] => PgType::Numeric(Some((p, s))),
                        _ => return None,
                    }
                } else if let Some(a) = args("varchar").or_else(|| args("character varying")) {
                    match a[..] {
                        [n] => PgType::Varchar(n),
                        _ => return None,
                    }
                } else if let Some(a) = args("character") {
                    match a[..] {
                        [n] => PgType::Char(n),
                        _ => return None,
                    }
                } else {
                    return None;
                }
            }
        })
    }

    /// The PostgreSQL type lite2pg writes for a catalog column, or `None` when it has no
    /// encoder for it.
    pub fn from_catalog(c: &crate::pg::catalog::Column) -> Option<PgType> {
        if c.typtype == "e" {
            return Some(PgType::Enum);
        }
        let m = c.typmod;
        Some(match c.typname.as_str() {
            "bool" => PgType::Boolean,
            "int2" => PgType::SmallInt,
            "int4" => PgType::Integer,
            "int8" => PgType::BigInt,
            "float4" => PgType::Real,
            "float8" => PgType::Double,
            "numeric" if m >= 4 => {
                let m = m - 4;
                PgType::Numeric(Some((((m >> 16) & 0xffff) as u32, (m & 0x7ff) as u32)))
            }
            "numeric" => PgType::Numeric(None),
            "text" | "name" => PgType::Text,
            "varchar" if m >= 4 => PgType::Varchar((m - 4) as u32),
            "varchar" => PgType::Text,
            "bpchar" => PgType::Char(if m >= 4 { (m - 4) as u32 } else { 1 }),
            "citext" => PgType::Citext,
            "bytea" => PgType::Bytea,
            "date" => PgType::Date,
            "time" => PgType::Time,
            "timetz" => PgType::TimeTz,
            "timestamp" => PgType::Timestamp,
            "timestamptz" => PgType::TimestampTz,
            "interval" => PgType::Interval,
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "uuid" => PgType::Uuid,
            "inet" => PgType::Inet,
            "cidr" => PgType::Cidr,
            _ => return None,
        })
    }

    /// Text-like types, which hold SQLite TEXT as is.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            PgType::Text | PgType::Varchar(_) | PgType::Citext | PgType::Char(_)
        )
    }

    /// Integer types.
    pub fn is_integer(self) -> bool {
        matches!(self, PgType::SmallInt | PgType::Integer | PgType::BigInt)
    }

    /// A coarse family for compatibility checks (foreign keys).
    pub fn family(self) -> &'static str {
        match self {
            PgType::SmallInt | PgType::Integer | PgType::BigInt => "integer",
            PgType::Double | PgType::Numeric(_) => "number",
            PgType::Text | PgType::Varchar(_) | PgType::Citext => "text",
            PgType::Timestamp | PgType::TimestampTz => "timestamp",
            other => match other {
                PgType::Boolean => "boolean",
                PgType::Bytea => "bytea",
                PgType::Date => "date",
                PgType::Time | PgType::TimeTz => "time",
                PgType::Jsonb | PgType::Json => "json",
                PgType::Real => "number",
                PgType::Interval => "interval",
                PgType::Char(_) | PgType::Enum => "text",
                PgType::Inet | PgType::Cidr => "inet",
                _ => "uuid",
            },
        }
    }
}

/// How the copier must turn a SQLite value into the chosen type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Conversion {
    /// The value is carried as it is.
    AsIs,
    /// Integers 0/1 become false/true.
    IntegerToBoolean,
    /// Boolean spellings (and 0/1) become false/true.
    ToBoolean,
    /// ISO-8601 text is parsed.
    TextToTemporal,
    /// A unix epoch becomes a timestamptz.
    Epoch {
        /// The unit the numbers are in.
        unit: EpochUnit,
    },
    /// A julian day number becomes a timestamptz.
    JulianDay,
    /// UUID text or 16-byte blobs become uuid.
    ToUuid,
    /// JSON text becomes jsonb.
    ToJson,
    /// Integers become doubles (exact: all within 2^53).
    IntegerToDouble,
    /// Numbers are carried as their exact decimal text.
    NumberToText,
    /// Text and numbers are carried as their UTF-8 bytes.
    ToBytes,
    /// Date-time text without an offset, into `timestamptz`: read as wall time at this
    /// offset from UTC (0 unless `--source-timezone` says otherwise).
    NaiveAt {
        /// Seconds east of UTC.
        offset_seconds: i32,
    },
    /// Date-time text without an offset, into `timestamptz`: read as wall time in this named
    /// zone (`--source-timezone Europe/Berlin`); a time its daylight saving skips or
    /// repeats is refused.
    NaiveIn {
        /// The zone.
        zone: Zone,
    },
    /// Into `interval`: integers are microseconds (Django), date-time text is the time
    /// since 1970-01-01 (SQLAlchemy), `P…` text an ISO-8601 duration.
    ToInterval,
    /// Text with a NUL byte or invalid UTF-8 is carried cleaned (`--invalid-text clean`):
    /// NUL removed, invalid bytes replaced by U+FFFD.
    CleanText,
    /// Into `numeric`: a number becomes the decimal the application's framework reads from
    /// SQLite, which stores decimals as doubles and rounds them its own way on reading.
    DecimalAsRead {
        /// The framework's way.
        reading: DecimalReading,
    },
}

/// How a framework turns the double SQLite holds for a decimal column into the decimal the
/// application sees. The rounding happens on every read, so the value the application
/// knows is the rounded one, and that is what PostgreSQL must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalReading {
    /// Django: every number rounded to 15 significant digits, then to the column's
    /// scale, ties to even (`Context(prec=15).create_decimal_from_float`, `quantize`).
    Django,
    /// ActiveRecord: a double rounded to the column's precision but at most 16
    /// significant digits, then to its scale, ties away from zero; integers exact.
    ActiveRecord,
    /// SQLAlchemy: a double's exact value rounded to the column's scale (10 without one),
    /// ties to even (`'%.{scale}f' % value`); integers exact.
    SqlAlchemy,
}

impl DecimalReading {
    /// The framework's name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            DecimalReading::Django => "Django",
            DecimalReading::ActiveRecord => "ActiveRecord",
            DecimalReading::SqlAlchemy => "SQLAlchemy",
        }
    }
}

/// How the application stored a column's values in SQLite, learned from the data when a
/// framework's schema is adopted and recorded with the run: after a cutover the reverse
/// applier writes PostgreSQL's values back in this form, so the application reads on
/// SQLite the objects it read on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "form")]
pub enum SourceForm {
    /// UUIDs as 32 hex digits (Django, SQLAlchemy's `Uuid`).
    UuidHex,
    /// UUIDs as 36 characters.
    UuidText,
    /// UUIDs as 16-byte blobs.
    UuidBlob,
    /// Durations as integer microseconds (Django).
    IntervalMicros,
    /// Durations as a date-time counted from 1970-01-01 (SQLAlchemy).
    IntervalDateTime,
    /// Durations as ISO-8601 text.
    IntervalIso,
    /// Date-times as text without an offset, wall time at this offset (Django, Rails).
    NaiveText {
        /// Seconds east of UTC.
        offset_seconds: i32,
    },
    /// Date-times as text without an offset, wall time in a named zone.
    NaiveTextIn {
        /// The zone.
        zone: Zone,
    },
    /// Booleans as `t`/`f` text.
    BoolText,
    /// Addresses as text, without the prefix length when it covers the whole address.
    InetText,
    /// Times of day as a date-time on 2000-01-01 (ActiveRecord's `time` on SQLite).
    TimeOnDummyDate,
}

/// A named (IANA) time zone, such as `Europe/Berlin`: a small handle to a zone loaded
/// once from the time-zone database lite2pg carries, written in plans as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(u16);

/// The zones loaded so far, by handle.
fn zones() -> &'static std::sync::RwLock<Vec<(String, jiff::tz::TimeZone)>> {
    static ZONES: std::sync::OnceLock<std::sync::RwLock<Vec<(String, jiff::tz::TimeZone)>>> =
        std::sync::OnceLock::new();
    ZONES.get_or_init(Default::default)
}

impl Zone {
    /// The zone `name` names, or why there is none.
    pub fn named(name: &str) -> Result<Zone, String> {
        let all = zones();
        if let Ok(known) = all.read() {
            if let Some(i) = known.iter().position(|(n, _)| n == name) {
                return Ok(Zone(i as u16));
            }
        }
        let tz = jiff::tz::TimeZone::get(name).map_err(|_| {
            format!("`{name}` is not a time zone lite2pg knows (e.g. Europe/Berlin)")
        })?;
        let mut known = all
            .write()
            .map_err(|_| "the time-zone table is unusable".to_string())?;
        if let Some(i) = known.iter().position(|(n, _)| n == name) {
            return Ok(Zone(i as u16));
        }
        known.push((name.to_string(), tz));
        Ok(Zone((known.len() - 1) as u16))
    }

    /// Its IANA name.
    pub fn name(self) -> String {
        zones()
            .read()
            .ok()
            .and_then(|k| k.get(usize::from(self.0)).map(|(n, _)| n.clone()))
            .unwrap_or_default()
    }

    /// The zone's rules.
    pub fn tz(self) -> jiff::tz::TimeZone {
        zones()
            .read()
            .ok()
            .and_then(|k| k.get(usize::from(self.0)).map(|(_, tz)| tz.clone()))
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
        let name = String::deserialize(d)?;
        Zone::named(&name).map_err(serde::de::Error::custom)
    }
}

/// The time zone the application's date-times without an offset were written in
/// (`--source-timezone`): a fixed offset (UTC by default) or a named zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceZone {
    /// Seconds east of UTC.
    Offset(i32),
    /// A named zone, with its daylight-saving rules.
    Named(Zone),
}

impl SourceZone {
    /// `UTC`, `Z`, `+HH:MM`/`-HH:MM`, or an IANA name such as `Europe/Berlin`.
    pub fn parse(zone: &str) -> Result<SourceZone, String> {
        let z = zone.trim();
        if z.eq_ignore_ascii_case("utc") || z == "Z" {
            return Ok(SourceZone::Offset(0));
        }
        let Some(sign) = (match z.chars().next() {
            Some('+') => Some(1),
            Some('-') => Some(-1),
            _ => None,
        }) else {
            return Zone::named(z).map(SourceZone::Named);
        };
        let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{zone}` is not an offset of the form +HH:MM"));
        }
        let h: i32 = digits[..2]
            .parse()
            .map_err(|_| format!("`{zone}`: bad hours"))?;
        let m: i32 = digits[2..]
            .parse()
            .map_err(|_| format!("`{zone}`: bad minutes"))?;
        if h > 15 || m > 59 {
            return Err(format!(
                "`{zone}` is outside the offsets in use (up to ±15:59)"
            ));
        }
        Ok(SourceZone::Offset(sign * (h * 3600 + m * 60)))
    }

    /// Microseconds since 1970 (UTC) of a wall time given as microseconds since 1970 as if
    /// it were UTC; `Err` when the zone skips that time (a daylight-saving gap) or passes
    /// it twice (a fold), where no single instant is meant.
    pub fn to_utc_micros(self, local_micros: i64) -> Result<i64, String> {
        match self {
            SourceZone::Offset(o) => Ok(local_micros - i64::from(o) * 1_000_000),
            SourceZone::Named(zone) => {
                let as_utc = jiff::Timestamp::from_microsecond(local_micros)
                    .map_err(|_| "out of the range of time zones".to_string())?;
                let wall = jiff::tz::TimeZone::UTC.to_datetime(as_utc);
                zone.tz()
                    .to_ambiguous_timestamp(wall)
                    .unambiguous()
                    .map(|t| t.as_microsecond())
                    .map_err(|_| {
                        format!(
                            "{wall} is not one instant in {} (a daylight-saving gap or fold)",
                            zone.name()
                        )
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_back_from_what_lite2pg_and_format_type_print() {
        for ty in [
            PgType::Numeric(Some((10, 2))),
            PgType::Varchar(40),
            PgType::Char(3),
            PgType::Interval,
            PgType::Real,
            PgType::TimestampTz,
        ] {
            assert_eq!(PgType::from_sql(&ty.to_string()), Some(ty), "{ty}");
        }
        assert_eq!(
            PgType::from_sql("timestamp(6) with time zone"),
            Some(PgType::TimestampTz)
        );
        assert_eq!(
            PgType::from_sql("timestamp without time zone"),
            Some(PgType::Timestamp)
        );
        assert_eq!(
            PgType::from_sql("time(3) without time zone"),
            Some(PgType::Time)
        );
        assert_eq!(
            PgType::from_sql("character varying(255)"),
            Some(PgType::Varchar(255))
        );
        assert_eq!(PgType::from_sql("character varying"), Some(PgType::Text));
        assert_eq!(PgType::from_sql("mood"), None);
    }

    #[test]
    fn source_zones_are_utc_offsets_or_named_zones_with_their_daylight_saving() {
        assert_eq!(SourceZone::parse("UTC"), Ok(SourceZone::Offset(0)));
        assert_eq!(SourceZone::parse("+02:00"), Ok(SourceZone::Offset(7200)));
        assert_eq!(SourceZone::parse("-0530"), Ok(SourceZone::Offset(-19800)));
        assert!(SourceZone::parse("+25:00").is_err());
        assert!(SourceZone::parse("Mars/Olympus").is_err());
        let berlin = SourceZone::parse("Europe/Berlin").unwrap();
        // Wall times as microseconds since 1970 read as UTC.
        let wall = |d: i64, h: i64, m: i64| (d * 86_400 + h * 3600 + m * 60) * 1_000_000;
        let jan15 = 19_737; // 2024-01-15
        let jul1 = 19_905; // 2024-07-01
        assert_eq!(
            berlin.to_utc_micros(wall(jan15, 12, 0)),
            Ok(wall(jan15, 11, 0))
        );
        assert_eq!(
            berlin.to_utc_micros(wall(jul1, 12, 0)),
            Ok(wall(jul1, 10, 0))
        );
        // 2024-03-31 02:30 never happened in Berlin; 2024-10-27 02:30 happened twice.
        assert!(berlin
            .to_utc_micros(wall(19_813, 2, 30))
            .unwrap_err()
            .contains("gap or fold"));
        assert!(berlin.to_utc_micros(wall(20_023, 2, 30)).is_err());
        // Plans keep the zone by name.
        let json = serde_json::to_string(&Conversion::NaiveIn {
            zone: Zone::named("Europe/Berlin").unwrap(),
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"naive_in","zone":"Europe/Berlin"}"#);
        let back: Conversion = serde_json::from_str(&json).unwrap();
        assert!(matches!(back, Conversion::NaiveIn { zone } if zone.name() == "Europe/Berlin"));
    }
}
