//! Choosing a PostgreSQL type for each column from its declared type and its profile.
//!
//! The declared type proposes (DECIMAL(5,2), VARCHAR(40), DATETIME, BOOLEAN, ...); the data
//! decides (DESIGN.md rule 2). A proposal is taken only when every stored value fits it
//! exactly; otherwise the column falls back to a type chosen from the storage classes
//! present, and the reason is recorded. `schema/typemap.toml` and docs/type-mapping.md
//! document the same rules for users.

use crate::model::Column;
use crate::plan::{Conversion, InvalidText, PgType, TypeConflicts};
use crate::sqlite::profile::ColumnProfile;
use crate::sqlite::temporal::EpochUnit;
use crate::sqlite::Affinity;

/// A column's chosen type and the story behind it.
#[derive(Debug, Clone)]
pub struct TypeChoice {
    /// The PostgreSQL type.
    pub ty: PgType,
    /// One line for the report.
    pub reason: String,
    /// How values are converted.
    pub conversion: Conversion,
    /// Rows the copier will have to reject under this choice.
    pub rejected: u64,
    /// Findings (warning-level) this choice raises.
    pub warnings: Vec<String>,
    /// How the application stores the values in SQLite, when a framework's convention
    /// decided the type (for the reverse applier).
    pub source_form: Option<crate::plan::SourceForm>,
}

impl TypeChoice {
    fn new(ty: PgType, reason: impl Into<String>) -> Self {
        TypeChoice {
            ty,
            reason: reason.into(),
            conversion: Conversion::AsIs,
            rejected: 0,
            warnings: Vec::new(),
            source_form: None,
        }
    }

    fn converting(mut self, c: Conversion) -> Self {
        self.conversion = c;
        self
    }
}

/// What the declared type proposes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Bool,
    Date,
    Time,
    Timestamp,
    Json,
    Uuid,
    Decimal(Option<(u32, u32)>),
    Varchar(u32),
    Int(PgType),
    Plain,
}

fn type_args(upper: &str) -> Vec<u32> {
    upper
        .split_once('(')
        .map(|(_, rest)| {
            rest.trim_end_matches(')')
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn family(declared: &str, affinity: Affinity) -> Family {
    let upper = declared.to_ascii_uppercase();
    let base = upper.split('(').next().unwrap_or("").trim().to_string();
    let first = base.split_whitespace().next().unwrap_or("");
    let unsigned = base.contains("UNSIGNED");
    let args = type_args(&upper);
    if base.contains("BOOL") {
        return Family::Bool;
    }
    match first {
        "DATE" => return Family::Date,
        "TIME" | "TIMETZ" => return Family::Time,
        "DATETIME" | "TIMESTAMP" | "TIMESTAMPTZ" | "SMALLDATETIME" | "DATETIME2" => {
            return Family::Timestamp
        }
        "JSON" | "JSONB" => return Family::Json,
        "UUID" | "GUID" | "UNIQUEIDENTIFIER" => return Family::Uuid,
        "DECIMAL" | "NUMERIC" | "NUMBER" => {
            return match args.as_slice() {
                [p] if *p > 0 && *p <= 1000 => Family::Decimal(Some((*p, 0))),
                [p, s] if *p > 0 && *p <= 1000 && s <= p => Family::Decimal(Some((*p, *s))),
                _ => Family::Decimal(None),
            }
        }
        _ => {}
    }
    match affinity {
        Affinity::Integer => Family::Int(match (first, unsigned) {
            ("TINYINT" | "INT2" | "SMALLINT", false) => PgType::SmallInt,
            ("TINYINT", true) => PgType::SmallInt,
            ("SMALLINT" | "INT2" | "MEDIUMINT" | "INT" | "INT4", _)
                if first != "INT" || !unsigned =>
            {
                PgType::Integer
            }
            _ => PgType::BigInt,
        }),
        Affinity::Text if base.contains("CHAR") => match args.as_slice() {
            [n] if *n > 0 && *n <= 10_485_760 => Family::Varchar(*n),
            _ => Family::Plain,
        },
        _ => Family::Plain,
    }
}

/// Whether a column's declared type proposes a boolean, date/time, JSON or UUID type, so
/// its profile must classify text shapes (for other columns those counts decide nothing).
pub fn needs_shapes(declared: &str) -> bool {
    matches!(
        family(declared, Affinity::of(declared)),
        Family::Bool
            | Family::Date
            | Family::Time
            | Family::Timestamp
            | Family::Json
            | Family::Uuid
    )
}

fn fits(ty: PgType, min: i64, max: i64) -> bool {
    let (lo, hi) = match ty {
        PgType::SmallInt => (i16::MIN as i64, i16::MAX as i64),
        PgType::Integer => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    };
    min >= lo && max <= hi
}

/// Chooses the type of one column.
pub fn choose(col: &Column, p: &ColumnProfile, policy: TypeConflicts) -> TypeChoice {
    choose_for(col, p, policy, InvalidText::Reject)
}

/// [`choose`], with `invalid` deciding what becomes of text PostgreSQL cannot hold.
pub fn choose_for(
    col: &Column,
    p: &ColumnProfile,
    policy: TypeConflicts,
    invalid: InvalidText,
) -> TypeChoice {
    let affinity = Affinity::of(&col.declared_type);
    let nocase = col.collation.as_deref() == Some("NOCASE");
    let declared = if col.declared_type.is_empty() {
        "no declared type".to_string()
    } else {
        format!("declared {}", col.declared_type)
    };
    if col.rowid_alias {
        return TypeChoice::new(
            PgType::BigInt,
            "INTEGER PRIMARY KEY (rowid alias): identity",
        );
    }
    let fam = family(&col.declared_type, affinity);
    let mut choice = match proposal(fam, p, &declared) {
        Ok(c) => c,
        Err(why) => {
            let mut c = generic(p, affinity, fam, policy, &declared);
            // The generic choice already explains a storage-class mix; say it once.
            if let (Some(why), true) = (why, c.warnings.is_empty()) {
                c.warnings.push(why);
            }
            c
        }
    };
    if nocase && choice.ty.is_text() {
        if let PgType::Varchar(n) = choice.ty {
            choice.reason = format!(
                "{}; COLLATE NOCASE, length {n} kept by a CHECK",
                choice.reason
            );
        } else {
            choice.reason = format!("{}; COLLATE NOCASE", choice.reason);
        }
        choice.ty = PgType::Citext;
        if p.text_non_ascii_cased > 0 {
            choice.warnings.push(format!(
                "{} value(s) hold letters beyond ASCII that have a case, e.g. {}: SQLite's \
                 NOCASE folds A-Z only, citext folds every letter by the database's locale, \
                 so `=`, LIKE and UNIQUE match more in PostgreSQL (É = é); a UNIQUE key \
                 whose values differ only so is refused",
                p.text_non_ascii_cased,
                p.samples.non_ascii_cased.as_deref().unwrap_or("?")
            ));
        }
    }
    let takes_text = !matches!(choice.ty, PgType::Bytea);
    if takes_text && (p.text_nul > 0 || p.text_invalid_utf8 > 0) {
        invalid_text(&mut choice, p, invalid);
    }
    choice
}

/// Text PostgreSQL's text types cannot hold, in a column of `choice`: rejected, the
/// column made `bytea`, or the values cleaned, as `invalid` says; each way reported.
fn invalid_text(choice: &mut TypeChoice, p: &ColumnProfile, invalid: InvalidText) {
    let (nul, bad) = (p.text_nul, p.text_invalid_utf8);
    let what = format!("{nul} text value(s) hold a NUL byte and {bad} are not valid UTF-8");
    match invalid {
        InvalidText::Reject => {
            choice.rejected += nul + bad;
            choice.warnings.push(format!(
                "{what}: PostgreSQL text cannot store them, those rows will be rejected \
                 (--invalid-text bytea or clean carries them)"
            ));
        }
        InvalidText::Bytea if choice.ty.is_text() => {
            choice.ty = PgType::Bytea;
            choice.conversion = Conversion::ToBytes;
            choice.reason = format!("{}; bytea: {what} (--invalid-text bytea)", choice.reason);
            choice.warnings.push(format!(
                "{what}: the column is bytea, every value carried as its bytes \
                 (--invalid-text bytea)"
            ));
        }
        InvalidText::Clean if choice.ty.is_text() => {
            choice.conversion = Conversion::CleanText;
            choice.warnings.push(format!(
                "{what}: NUL bytes are removed and invalid bytes replaced by U+FFFD \
                 (--invalid-text clean); each such value is listed in the reject file as \
                 carried"
            ));
        }
        // JSON, UUIDs, dates: no text type to carry them in; rejected.
        InvalidText::Bytea | InvalidText::Clean => {
            choice.rejected += nul + bad;
            choice.warnings.push(format!(
                "{what}: a {} column cannot hold them, those rows will be rejected",
                choice.ty
            ));
        }
    }
}

/// A value that breaks the rule, for a finding: the first text found breaking it, else the
/// first of `others` (storage classes that break it by being there; a blob of 16 bytes
/// may be a UUID, but with texts failing the first is the one shown).
fn offending(text: &Option<String>, others: &[&Option<String>]) -> String {
    text.clone()
        .or_else(|| others.iter().find_map(|o| (*o).clone()))
        .unwrap_or_default()
}

/// `Ok` when the declared type's proposal holds every value; `Err(Some(why))` when the data
/// contradicts it, `Err(None)` when there is no proposal.
///
/// Length: one arm per family of declared types, each with the condition on the profile
/// that lets the proposal stand; the table of rules is easier to check in one place.
fn proposal(fam: Family, p: &ColumnProfile, declared: &str) -> Result<TypeChoice, Option<String>> {
    let c = &p.counts;
    let nn = c.non_null();
    let sample = || {
        p.samples
            .text
            .clone()
            .or(p.samples.real.clone())
            .or(p.samples.integer.clone())
            .or(p.samples.blob.clone())
            .unwrap_or_default()
    };
    match fam {
        Family::Plain => Err(None),
        Family::Int(ty) => {
            if nn == 0 {
                return Ok(TypeChoice::new(ty, format!("{declared}; no data")));
            }
            if c.integer != nn {
                return Err(Some(format!(
                    "{declared} but holds {} non-integer value(s), e.g. {}",
                    nn - c.integer,
                    p.samples
                        .text
                        .clone()
                        .or(p.samples.real.clone())
                        .or(p.samples.blob.clone())
                        .unwrap_or_default()
                )));
            }
            let (min, max) = (p.int_min.unwrap_or(0), p.int_max.unwrap_or(0));
            for t in [ty, PgType::Integer, PgType::BigInt] {
                if t.is_integer() && rank(t) >= rank(ty) && fits(t, min, max) {
                    let mut choice = TypeChoice::new(
                        t,
                        format!("{declared}; {} integers in [{min}, {max}]", c.integer),
                    );
                    if t != ty {
                        choice.warnings.push(format!(
                            "{declared} but values reach [{min}, {max}], beyond {ty}: widened to {t}"
                        ));
                    }
                    return Ok(choice);
                }
            }
            Err(None)
        }
        Family::Bool => {
            if nn == 0 {
                return Ok(
                    TypeChoice::new(PgType::Boolean, format!("{declared}; no data"))
                        .converting(Conversion::ToBoolean),
                );
            }
            if c.integer == p.int_bool && c.text == p.text_bool && c.real == 0 && c.blob == 0 {
                let conv = if c.text == 0 {
                    Conversion::IntegerToBoolean
                } else {
                    Conversion::ToBoolean
                };
                return Ok(TypeChoice::new(
                    PgType::Boolean,
                    format!("{declared}; every value is 0/1 or a boolean spelling"),
                )
                .converting(conv));
            }
            Err(Some(format!(
                "{declared} but holds values other than 0/1 and boolean spellings, e.g. {}",
                offending(&p.samples.not_bool, &[&p.samples.real, &p.samples.blob])
            )))
        }
        Family::Date | Family::Time | Family::Timestamp => temporal(fam, p, declared),
        Family::Json => {
            if c.blob == 0 && p.text_json == c.text && p.text_json_nul == 0 {
                Ok(TypeChoice::new(
                    PgType::Jsonb,
                    format!("{declared}; every value is valid JSON"),
                )
                .converting(Conversion::ToJson))
            } else {
                Err(Some(format!(
                    "{declared} but not every value is JSON jsonb can hold, e.g. {}",
                    offending(&p.samples.not_json, &[&p.samples.blob])
                )))
            }
        }
        Family::Uuid => {
            if c.integer == 0 && c.real == 0 && p.text_uuid == c.text && p.blob16 == c.blob {
                Ok(
                    TypeChoice::new(PgType::Uuid, format!("{declared}; every value is a UUID"))
                        .converting(Conversion::ToUuid),
                )
            } else {
                Err(Some(format!(
                    "{declared} but not every value is a UUID, e.g. {}",
                    offending(
                        &p.samples.not_uuid,
                        &[&p.samples.integer, &p.samples.real, &p.samples.blob]
                    )
                )))
            }
        }
        Family::Decimal(typmod) => {
            if c.text > 0 || c.blob > 0 || p.real_nonfinite > 0 {
                return Err(Some(format!(
                    "{declared} but holds non-numeric values, e.g. {}",
                    sample()
                )));
            }
            match typmod {
                Some((prec, scale)) if nn > 0 => {
                    if p.max_int_digits + scale <= prec && p.max_frac_digits <= scale {
                        Ok(TypeChoice::new(
                            PgType::Numeric(Some((prec, scale))),
                            format!("{declared}; every value fits"),
                        ))
                    } else {
                        let mut choice = TypeChoice::new(
                            PgType::Numeric(None),
                            format!(
                                "{declared} but values need {} integer and {} fraction digits",
                                p.max_int_digits, p.max_frac_digits
                            ),
                        );
                        choice.warnings.push(format!(
                            "{declared} but stored values do not fit numeric({prec},{scale}) \
                             (up to {} integer and {} fraction digits): numeric without limits",
                            p.max_int_digits, p.max_frac_digits
                        ));
                        Ok(choice)
                    }
                }
                Some(t) => Ok(TypeChoice::new(
                    PgType::Numeric(Some(t)),
                    format!("{declared}; no data"),
                )),
                None => Ok(TypeChoice::new(
                    PgType::Numeric(None),
                    format!("{declared}; exact numbers"),
                )),
            }
        }
        Family::Varchar(n) => {
            if c.integer + c.real + c.blob > 0 {
                return Err(None);
            }
            if p.text_max_chars <= u64::from(n) {
                Ok(TypeChoice::new(
                    PgType::Varchar(n),
                    format!("{declared}; longest value {} characters", p.text_max_chars),
                ))
            } else {
                let mut choice = TypeChoice::new(
                    PgType::Text,
                    format!(
                        "{declared} but values reach {} characters",
                        p.text_max_chars
                    ),
                );
                choice.warnings.push(format!(
                    "{declared} but the longest value has {} characters: text, so nothing is cut",
                    p.text_max_chars
                ));
                Ok(choice)
            }
        }
    }
}

fn rank(t: PgType) -> u8 {
    match t {
        PgType::SmallInt => 0,
        PgType::Integer => 1,
        _ => 2,
    }
}

fn temporal(fam: Family, p: &ColumnProfile, declared: &str) -> Result<TypeChoice, Option<String>> {
    let c = &p.counts;
    let nn = c.non_null();
    let default_ty = match fam {
        Family::Date => PgType::Date,
        Family::Time => PgType::Time,
        _ => PgType::Timestamp,
    };
    if nn == 0 {
        return Ok(TypeChoice::new(default_ty, format!("{declared}; no data"))
            .converting(Conversion::TextToTemporal));
    }
    let only = |n: u64| n == nn;
    let texts_temporal =
        p.text_date + p.text_naive + p.text_offset + p.text_time + p.text_time_offset;
    if only(c.text) && texts_temporal == c.text {
        let ty = match fam {
            Family::Time if only(p.text_time) => Some(PgType::Time),
            Family::Time if only(p.text_time_offset) => Some(PgType::TimeTz),
            Family::Time => None,
            _ if p.text_time + p.text_time_offset > 0 => None,
            Family::Date if only(p.text_date) => Some(PgType::Date),
            _ if p.text_offset == 0 => Some(PgType::Timestamp),
            _ if p.text_offset == c.text => Some(PgType::TimestampTz),
            _ => None,
        };
        return match ty {
            Some(ty) => {
                let mut choice = TypeChoice::new(ty, format!("{declared}; all {} texts are ISO-8601 {ty} values", c.text))
                    .converting(Conversion::TextToTemporal);
                if fam == Family::Date && ty == PgType::Timestamp {
                    choice.warnings.push(format!("{declared} but values carry a time of day: timestamp, so no time is lost"));
                }
                Ok(choice)
            }
            None => Err(Some(format!(
                "{declared} but values mix shapes (dates {}, naive {}, with offset {}, times {}): kept as text",
                p.text_date, p.text_naive, p.text_offset, p.text_time + p.text_time_offset
            ))),
        };
    }
    if fam != Family::Time && only(c.integer) {
        let units = [EpochUnit::Seconds, EpochUnit::Millis, EpochUnit::Micros];
        for (k, unit) in units.iter().enumerate() {
            if p.int_epoch[k] == c.integer {
                return Ok(TypeChoice::new(
                    PgType::TimestampTz,
                    format!(
                        "{declared}; all {} integers are unix epochs in {unit:?}",
                        c.integer
                    )
                    .to_lowercase(),
                )
                .converting(Conversion::Epoch { unit: *unit }));
            }
        }
    }
    if fam != Family::Time && only(c.real) && p.real_julian == c.real {
        return Ok(TypeChoice::new(
            PgType::TimestampTz,
            format!("{declared}; all {} reals are julian day numbers", c.real),
        )
        .converting(Conversion::JulianDay));
    }
    let example = p
        .non_temporal_text
        .clone()
        .or(p.samples.integer.clone())
        .or(p.samples.real.clone())
        .or(p.samples.blob.clone())
        .unwrap_or_default();
    Err(Some(format!(
        "{declared} but {} of {nn} values are not dates or times PostgreSQL holds exactly, e.g. {example}",
        nn - texts_temporal.min(nn)
    )))
}

/// The fallback: a type from the storage classes present.
fn generic(
    p: &ColumnProfile,
    affinity: Affinity,
    fam: Family,
    policy: TypeConflicts,
    declared: &str,
) -> TypeChoice {
    let c = &p.counts;
    let numbers = c.integer + c.real;
    if c.non_null() == 0 {
        let ty = match affinity {
            Affinity::Integer => PgType::BigInt,
            Affinity::Real => PgType::Double,
            Affinity::Numeric => PgType::Numeric(None),
            Affinity::Text => PgType::Text,
            Affinity::Blob if declared.to_ascii_uppercase().contains("BLOB") => PgType::Bytea,
            Affinity::Blob => PgType::Text,
        };
        return TypeChoice::new(
            ty,
            format!("{declared}; no data, {affinity:?} affinity").replace("Integer", "INTEGER"),
        );
    }
    let number_type = || -> TypeChoice {
        if c.real == 0 {
            TypeChoice::new(
                PgType::BigInt,
                format!("{declared}; {} integers", c.integer),
            )
        } else if c.integer == 0 {
            TypeChoice::new(PgType::Double, format!("{declared}; {} reals", c.real))
        } else {
            let exact =
                p.int_min.unwrap_or(0) >= -(1i64 << 53) && p.int_max.unwrap_or(0) <= 1i64 << 53;
            if exact && affinity != Affinity::Numeric && !matches!(fam, Family::Decimal(_)) {
                TypeChoice::new(
                    PgType::Double,
                    format!(
                        "{declared}; {} reals and {} integers (all exact as doubles)",
                        c.real, c.integer
                    ),
                )
                .converting(Conversion::IntegerToDouble)
            } else {
                TypeChoice::new(
                    PgType::Numeric(None),
                    format!(
                        "{declared}; {} integers and {} reals, exact in numeric",
                        c.integer, c.real
                    ),
                )
            }
        }
    };
    match c.classes() {
        1 if numbers > 0 => return number_type(),
        1 if c.text > 0 => {
            return TypeChoice::new(PgType::Text, format!("{declared}; {} texts", c.text))
        }
        1 => return TypeChoice::new(PgType::Bytea, format!("{declared}; {} blobs", c.blob)),
        2 if c.integer > 0 && c.real > 0 => return number_type(),
        _ => {}
    }
    let mix = format!(
        "integer ×{}, real ×{}, text ×{}, blob ×{}",
        c.integer, c.real, c.text, c.blob
    );
    // The majority's type, and how many rows it would leave out.
    let groups = [(numbers, "numbers"), (c.text, "text"), (c.blob, "blob")];
    let (major, major_name) = groups
        .iter()
        .copied()
        .max_by_key(|g| g.0)
        .unwrap_or((0, "text"));
    let under_reject = match major_name {
        "numbers" => number_type().ty,
        "text" => PgType::Text,
        _ => PgType::Bytea,
    };
    let rejected = c.non_null() - major;
    match policy {
        TypeConflicts::Widen => {
            let (ty, conv, how) = if c.blob > 0 {
                (
                    PgType::Bytea,
                    Conversion::ToBytes,
                    "bytea (texts and numbers as their UTF-8 bytes)",
                )
            } else {
                (
                    PgType::Text,
                    Conversion::NumberToText,
                    "text (numbers as their exact decimal text)",
                )
            };
            let mut choice = TypeChoice::new(
                ty,
                format!("{declared}; mixed storage classes ({mix}): widened"),
            )
            .converting(conv);
            choice.warnings.push(format!(
                "{declared} holds several storage classes ({mix}): widened to {how}; \
                 with --type-conflicts reject it would be {under_reject} and {rejected} row(s) rejected"
            ));
            choice
        }
        TypeConflicts::Reject => {
            let mut choice = TypeChoice::new(
                under_reject,
                format!("{declared}; mixed storage classes ({mix}): majority type"),
            );
            choice.rejected = rejected;
            choice.warnings.push(format!(
                "{declared} holds several storage classes ({mix}): {under_reject} chosen for the \
                 majority, {rejected} row(s) will be rejected (--type-conflicts widen keeps them)"
            ));
            choice
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::profile::StorageCounts;

    #[test]
    fn every_type_reads_back_from_the_sql_it_prints() {
        let all = [
            PgType::Boolean,
            PgType::SmallInt,
            PgType::Integer,
            PgType::BigInt,
            PgType::Double,
            PgType::Numeric(None),
            PgType::Numeric(Some((12, 3))),
            PgType::Text,
            PgType::Varchar(40),
            PgType::Citext,
            PgType::Bytea,
            PgType::Date,
            PgType::Time,
            PgType::TimeTz,
            PgType::Timestamp,
            PgType::TimestampTz,
            PgType::Jsonb,
            PgType::Uuid,
        ];
        for ty in all {
            assert_eq!(PgType::from_sql(&ty.to_string()), Some(ty), "{ty}");
        }
        assert_eq!(PgType::from_sql("varchar(x)"), None);
        assert_eq!(PgType::from_sql("int4"), None);
    }

    fn col(declared: &str) -> Column {
        Column {
            name: "c".into(),
            declared_type: declared.into(),
            not_null: false,
            default: None,
            collation: None,
            generated: None,
            pk_position: 0,
            rowid_alias: false,
        }
    }

    fn ints(min: i64, max: i64, n: u64) -> ColumnProfile {
        ColumnProfile {
            counts: StorageCounts {
                integer: n,
                ..Default::default()
            },
            int_min: Some(min),
            int_max: Some(max),
            ..Default::default()
        }
    }

    #[test]
    fn integer_is_bigint_and_small_declarations_are_kept_when_values_fit() {
        assert_eq!(
            choose(&col("INTEGER"), &ints(1, 5, 5), TypeConflicts::Widen).ty,
            PgType::BigInt
        );
        assert_eq!(
            choose(&col("SMALLINT"), &ints(1, 5, 5), TypeConflicts::Widen).ty,
            PgType::SmallInt
        );
        assert_eq!(
            choose(&col("SMALLINT"), &ints(1, 70_000, 5), TypeConflicts::Widen).ty,
            PgType::Integer
        );
        assert_eq!(
            choose(
                &col("SMALLINT UNSIGNED"),
                &ints(1, 5, 5),
                TypeConflicts::Widen
            )
            .ty,
            PgType::Integer
        );
    }

    #[test]
    fn reals_are_always_double_precision() {
        let p = ColumnProfile {
            counts: StorageCounts {
                real: 3,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            choose(&col("FLOAT"), &p, TypeConflicts::Widen).ty,
            PgType::Double
        );
        assert_eq!(
            choose(&col("REAL"), &p, TypeConflicts::Widen)
                .ty
                .to_string(),
            "double precision"
        );
    }

    #[test]
    fn mixed_columns_widen_or_reject_by_policy() {
        let p = ColumnProfile {
            counts: StorageCounts {
                integer: 8,
                text: 2,
                ..Default::default()
            },
            int_min: Some(1),
            int_max: Some(9),
            ..Default::default()
        };
        let widen = choose(&col("INTEGER"), &p, TypeConflicts::Widen);
        assert_eq!(widen.ty, PgType::Text);
        assert_eq!(widen.rejected, 0);
        let reject = choose(&col("INTEGER"), &p, TypeConflicts::Reject);
        assert_eq!(reject.ty, PgType::BigInt);
        assert_eq!(reject.rejected, 2);
    }
}
