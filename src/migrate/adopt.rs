//! `--data-only`: load into the tables that exist, whatever made them (Django `migrate`,
//! Rails `db:schema:load`, Alembic, Prisma, Laravel, or hand-written DDL).
//!
//! The translator's plan says what the SQLite data is; the target's catalog says what the
//! application's framework made. Adopting rewrites the plan onto the catalog:
//!
//! - tables and columns are matched by name, exactly, then ignoring case (reported);
//! - a SQLite column with no target column is refused, all of them listed, unless
//!   `--exclude table.column` leaves it out; a target column SQLite lacks must be nullable,
//!   have a default, or be an identity or generated column;
//! - every column takes the target's actual type, and the conversion is chosen from what
//!   SQLite stores (e.g. epochs in the unit the values show, naive date-times read in the
//!   source's time zone), so the copier converts each value exactly or rejects its row;
//! - the target's primary key identifies rows for resume and verification;
//! - the target's foreign keys are held for the load (`held.rs`) and added back `NOT VALID`
//!   then validated, so a child chunk committed before its parents' cannot fail the load,
//!   and orphans are reported as for the schema lite2pg makes; its user triggers are
//!   disabled for the load (the rows are the application's history, not new events: an
//!   audit or `updated_at` trigger firing now would change what arrives) and enabled
//!   again after it. Both are recorded in `lite2pg.held`, so a resumed run and
//!   `rollback --run` restore them;
//! - every sequence behind a copied column (serial or identity) continues past the highest
//!   value loaded and past `sqlite_sequence`, so the application's next insert works and
//!   never reuses a deleted AUTOINCREMENT id;
//! - a target table already holding rows is refused, unless `--truncate`, or unless the
//!   framework seeded it itself (Django's content types and permissions), whose rows the
//!   SQLite file's replace; a framework's migration record is compared, not loaded
//!   (`bookkeeping.rs`).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::model::frameworks::{self, Framework};
use crate::model::glob;
use crate::pg::catalog;
use crate::pg::{qualified, quote_ident, quote_literal, Client};
use crate::plan::{
    ColumnPlan, Conversion, DecimalReading, Finding, PgType, Plan, RowIdentity, Severity,
    SourceForm, SourceZone, Statement, TablePlan,
};
use crate::sqlite::profile::{ColumnProfile, TableProfile};
use crate::sqlite::temporal::{self, EpochUnit};

/// How values stored as `col` shows are converted into `ty`, and a phrase saying so.
fn conversion(
    ty: PgType,
    col: &ColumnPlan,
    profile: &ColumnProfile,
    source_zone: SourceZone,
    decimals: Option<DecimalReading>,
) -> (Conversion, String) {
    let s = &col.storage;
    if let (PgType::Numeric(typmod), Some(reading)) = (ty, decimals) {
        let rule = match (reading, typmod) {
            (DecimalReading::Django, _) => "15 significant digits, then the scale",
            (DecimalReading::ActiveRecord, Some(_)) => {
                "the precision, at most 16 significant digits, then the scale"
            }
            (DecimalReading::ActiveRecord, None) => "the shortest decimal of the double",
            (DecimalReading::SqlAlchemy, _) => "the double's exact value to the scale",
        };
        return (
            Conversion::DecimalAsRead { reading },
            format!(
                "numbers as {} reads them from SQLite ({rule}): the decimal the application \
                 knows",
                reading.name()
            ),
        );
    }
    match ty {
        PgType::TimestampTz | PgType::Timestamp | PgType::Date if s.integer > 0 => {
            let unit = epoch_unit(profile);
            (
                Conversion::Epoch { unit },
                format!("integers read as unix epochs in {}", unit_name(unit)),
            )
        }
        PgType::TimestampTz if s.real > 0 && s.text == 0 => (
            Conversion::JulianDay,
            "reals read as julian day numbers".into(),
        ),
        PgType::TimestampTz => match source_zone {
            SourceZone::Offset(offset_seconds) => (
                Conversion::NaiveAt { offset_seconds },
                format!(
                    "date-times without an offset read as {}",
                    offset_name(offset_seconds)
                ),
            ),
            SourceZone::Named(zone) => (
                Conversion::NaiveIn { zone },
                format!(
                    "date-times without an offset read as wall time in {}",
                    zone.name()
                ),
            ),
        },
        PgType::Interval => (
            Conversion::ToInterval,
            "integers read as microseconds, date-time text as the time since 1970-01-01, \
             P… text as an ISO-8601 duration"
                .into(),
        ),
        PgType::Boolean => (Conversion::ToBoolean, "0/1 and boolean spellings".into()),
        PgType::Uuid => (
            Conversion::ToUuid,
            "32 hex digits, 36 characters or 16 bytes".into(),
        ),
        PgType::Jsonb | PgType::Json => (Conversion::ToJson, "JSON text, validated".into()),
        _ => (Conversion::AsIs, "as stored".into()),
    }
}

/// How the application stored a column's values in SQLite, as far as the data shows it
/// (and a framework's habit where an empty column shows nothing).
fn source_form(
    ty: PgType,
    conversion: Conversion,
    col: &ColumnPlan,
    p: &ColumnProfile,
) -> Option<SourceForm> {
    let s = &col.storage;
    match ty {
        PgType::Uuid if s.blob > s.text => Some(SourceForm::UuidBlob),
        PgType::Uuid if s.text > 0 && p.text_max_chars == 32 => Some(SourceForm::UuidHex),
        PgType::Uuid if s.text > 0 => Some(SourceForm::UuidText),
        // Django's char(32), empty so far.
        PgType::Uuid if col.declared_type.eq_ignore_ascii_case("char(32)") => {
            Some(SourceForm::UuidHex)
        }
        PgType::Uuid => Some(SourceForm::UuidText),
        PgType::Interval if s.text > s.integer && p.text_naive + p.text_date > 0 => {
            Some(SourceForm::IntervalDateTime)
        }
        PgType::Interval if s.text > s.integer => Some(SourceForm::IntervalIso),
        PgType::Interval => Some(SourceForm::IntervalMicros),
        PgType::TimestampTz if p.text_offset > p.text_naive => None,
        PgType::TimestampTz => match conversion {
            Conversion::NaiveAt { offset_seconds } => {
                Some(SourceForm::NaiveText { offset_seconds })
            }
            Conversion::NaiveIn { zone } => Some(SourceForm::NaiveTextIn { zone }),
            _ => None,
        },
        PgType::Boolean if s.text > s.integer => Some(SourceForm::BoolText),
        PgType::Inet | PgType::Cidr => Some(SourceForm::InetText),
        PgType::Time if p.text_naive > 0 => Some(SourceForm::TimeOnDummyDate),
        _ => None,
    }
}

/// The epoch unit a column's integers show: the one most of them fit (the profile counts
/// units for declared date and time types), else the one of the largest magnitude.
fn epoch_unit(p: &ColumnProfile) -> EpochUnit {
    const UNITS: [EpochUnit; 3] = [EpochUnit::Seconds, EpochUnit::Millis, EpochUnit::Micros];
    if let Some((i, _)) = p
        .int_epoch
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .max_by_key(|(_, n)| **n)
    {
        return UNITS[i];
    }
    [p.int_max, p.int_min]
        .into_iter()
        .flatten()
        .find_map(temporal::epoch_unit)
        .unwrap_or(EpochUnit::Seconds)
}

fn unit_name(unit: EpochUnit) -> &'static str {
    match unit {
        EpochUnit::Seconds => "seconds",
        EpochUnit::Millis => "milliseconds",
        EpochUnit::Micros => "microseconds",
    }
}

fn offset_name(seconds: i32) -> String {
    if seconds == 0 {
        return "UTC".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// Finds `name` among `names`: exactly, then ignoring ASCII case (the second says so).
fn matching<'a>(
    name: &str,
    also: &str,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Option<(&'a str, bool)> {
    names
        .clone()
        .find(|n| *n == name || *n == also)
        .map(|n| (n, false))
        .or_else(|| {
            names
                .into_iter()
                .find(|n| n.eq_ignore_ascii_case(name))
                .map(|n| (n, true))
        })
}

/// Rewrites the translator's `plan` onto the tables of the target schema (see the module
/// doc). `exclude` may name columns as `table.column` globs; `source_offset` is the source's
/// time zone as seconds east of UTC.
pub fn adopt(
    client: &Client,
    plan: &mut Plan,
    profiles: &HashMap<String, TableProfile>,
    how: Adopting<'_>,
) -> Result<()> {
    let schema = plan.options.schema.clone();
    let frameworks: Vec<Framework> = plan
        .findings
        .iter()
        .filter(|f| f.code == "framework.detected")
        .filter_map(|f| frameworks::by_name(&f.object))
        .collect();
    let decimals = frameworks.iter().find_map(|fw| decimal_reading(*fw));
    let mut truncate = Vec::new();
    let catalog = catalog::tables(client, &schema)?;
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    for tp in &plan.tables {
        let Some((name, folded)) =
            matching(&tp.source, &tp.target, catalog.keys().map(String::as_str))
        else {
            problems.push(format!(
                "table {} has no table in schema {} (create it with the application's \
                 migrations, or leave it out with --exclude)",
                quote_ident(&tp.source),
                quote_ident(&schema)
            ));
            continue;
        };
        let cat = &catalog[name];
        if folded {
            findings.push(note(
                "adopt.matched",
                format!("table {}", quote_ident(&tp.source)),
                format!(
                    "loads into {} (names differ in case only)",
                    quote_ident(name)
                ),
            ));
        }
        let empty = TableProfile::default();
        let profile = profiles.get(&tp.source).unwrap_or(&empty);
        let adopted = adopt_table(
            tp,
            cat,
            profile,
            how,
            decimals,
            &mut problems,
            &mut findings,
        );
        let q = qualified(&schema, &cat.name);
        let sources: Vec<&str> = tp.columns.iter().map(|c| c.source.as_str()).collect();
        // A framework's migration record is compared, not loaded (bookkeeping.rs).
        if frameworks::bookkeeping(&tp.source, &sources).is_none() {
            match rows_there(client, &q, &cat.name, how, &frameworks)? {
                There::Empty => {}
                There::EmptyFirst(why) => {
                    truncate.push(q.clone());
                    findings.push(note(
                        "adopt.truncated",
                        format!("table {}", quote_ident(&cat.name)),
                        why,
                    ));
                }
                There::Refused(why) => problems.push(why),
            }
        }
        sequences.extend(sequence_statements(tp, &adopted, cat, &q));
        tables.push(adopted);
    }
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "--data-only cannot load into schema {} as it is:\n  {}",
            quote_ident(&schema),
            problems.join("\n  ")
        )));
    }
    plan.tables = tables;
    plan.views.clear();
    plan.adopted = true;
    // The framework's schema is kept as it is, its own triggers among it: SQLite's are
    // not added to it.
    for t in std::mem::take(&mut plan.triggers) {
        findings.push(note(
            "adopt.trigger_not_created",
            t.object(),
            "not created: --data-only keeps the framework's schema as it is; if the \
             application relies on this trigger, the framework's migrations for PostgreSQL \
             must make it (docs/behaviour.md shows its translation: `lite2pg plan`)"
                .into(),
        ));
    }
    // The translator's decisions about DDL it will not run are no news; what it found in
    // the data, and what adopting decided, are.
    plan.findings.retain(|f| {
        f.code.starts_with("data.")
            || f.code.starts_with("object.")
            || f.code.starts_with("framework.")
    });
    plan.findings.extend(findings);
    // The framework's foreign keys come back from what the run holds (`held_foreign_keys`),
    // which a resumed run finds there after the catalog has lost them. Tables to empty
    // first are the prelude: run once, recorded, so a resumed run does not empty them again.
    plan.ddl = crate::plan::Ddl {
        prelude: truncate
            .into_iter()
            .map(|q| Statement {
                object: format!("rows of {q}"),
                sql: format!("TRUNCATE TABLE {q}"),
                optional: false,
                constraint: None,
                creates: None,
                parts: None,
                source: None,
                checks: Vec::new(),
            })
            .collect(),
        sequences,
        ..Default::default()
    };
    Ok(())
}

/// How `fw`'s application reads the doubles SQLite holds for its decimal columns, where
/// that is known; `None`: as the shortest decimal that reads back to the same double.
fn decimal_reading(fw: Framework) -> Option<DecimalReading> {
    match fw {
        Framework::Django => Some(DecimalReading::Django),
        Framework::Rails => Some(DecimalReading::ActiveRecord),
        Framework::Alembic | Framework::SqlAlchemy => Some(DecimalReading::SqlAlchemy),
        _ => None,
    }
}

fn note(code: &str, object: String, message: String) -> Finding {
    Finding {
        severity: Severity::Info,
        code: code.into(),
        object,
        message,
        sql: None,
    }
}

/// What a target table already holds, and what to do about it.
enum There {
    /// Nothing (or, resuming, this run's own rows).
    Empty,
    /// Rows to empty first, and why that is right.
    EmptyFirst(String),
    /// Rows the user must decide about.
    Refused(String),
}

/// Whether table `name` (`q`) holds rows already: empty first those a framework seeded
/// itself, or all with `--truncate`; refuse otherwise.
fn rows_there(
    client: &Client,
    q: &str,
    name: &str,
    how: Adopting<'_>,
    detected: &[Framework],
) -> Result<There> {
    let Some(rows) = filled(client, q, how.resume)? else {
        return Ok(There::Empty);
    };
    if how.truncate {
        return Ok(There::EmptyFirst(format!(
            "held {rows} row(s) already: emptied first (--truncate)"
        )));
    }
    Ok(match frameworks::seeded(detected, name) {
        Some(fw) => There::EmptyFirst(format!(
            "{} filled it with {rows} row(s) when it made the schema; the SQLite file's rows \
             replace them, so the ids other rows refer to stay right",
            fw.name()
        )),
        None => There::Refused(format!(
            "table {} already holds {rows} row(s): loading would mix them with the SQLite \
             file's (empty it, or pass --truncate to have lite2pg empty it first; those rows \
             are then lost)",
            quote_ident(name)
        )),
    })
}

/// A `setval` per sequence behind a loaded column of `adopted` (serial or identity),
/// past the highest value loaded and, for the rowid alias, past `sqlite_sequence`.
fn sequence_statements(
    tp: &TablePlan,
    adopted: &TablePlan,
    cat: &catalog::Table,
    q: &str,
) -> Vec<Statement> {
    let mut out = Vec::new();
    for c in &adopted.columns {
        let Some(seq) = cat
            .columns
            .iter()
            .find(|k| k.name == c.target)
            .and_then(|k| k.sequence.as_ref())
        else {
            continue;
        };
        // The rowid alias's next id counts sqlite_sequence too: AUTOINCREMENT never
        // hands out the id of a row deleted since, and neither may PostgreSQL.
        let used = tp
            .columns
            .iter()
            .find(|o| o.source == c.source && o.identity)
            .and(tp.next_id)
            .map_or(0, |next| next.saturating_sub(1));
        out.push(Statement {
            object: format!(
                "sequence of {}.{}",
                quote_ident(&cat.name),
                quote_ident(&c.target)
            ),
            sql: format!(
                "SELECT setval({}, greatest(coalesce(max({col}), 0), {used}, 1), \
                 greatest(coalesce(max({col}), 0), {used}) > 0) FROM {q}",
                quote_literal(seq),
                col = quote_ident(&c.target)
            ),
            optional: false,
            constraint: None,
            creates: None,
            parts: None,
            checks: Vec::new(),
            source: None,
        });
    }
    out
}

/// The user's say in adopting: columns left out, the source's time zone, whether target
/// rows may be emptied first, and whether this continues a killed run.
#[derive(Debug, Clone, Copy)]
pub struct Adopting<'a> {
    /// `--exclude` globs; those with a dot name columns (`table.column`).
    pub exclude: &'a [String],
    /// `--source-timezone`.
    pub source_zone: SourceZone,
    /// `--truncate`: target tables holding rows are emptied first.
    pub truncate: bool,
    /// `--resume`: the tables hold this run's rows already.
    pub resume: bool,
}

/// How many rows a target table holds already (`None`: empty, or a resumed run's own).
fn filled(client: &Client, q: &str, resume: bool) -> Result<Option<i64>> {
    if resume {
        return Ok(None);
    }
    let rows: i64 = client
        .query(
            &format!("looking for rows in {q}"),
            &format!("SELECT count(*) FROM {q}"),
            &[],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0);
    Ok((rows > 0).then_some(rows))
}

/// A table lite2pg made before (`--schema-only`, then this) carries the SQLite rowid in
/// its added column: that column, to fill with the rowid again, or resume, verify and sync
/// lose their row identity.
fn added_rowid(tp: &TablePlan, cat: &catalog::Table) -> Option<ColumnPlan> {
    let RowIdentity::AddedRowid { column } = &tp.row_identity else {
        return None;
    };
    let planned = tp.columns.iter().find(|c| &c.target == column)?;
    let k = cat.columns.iter().find(|k| &k.name == column)?;
    Some(ColumnPlan {
        pg_type: k.formatted.clone(),
        identity: k.identity,
        not_null: k.not_null,
        ..planned.clone()
    })
}

/// One SQLite table's plan, rewritten onto the target table `cat`.
fn adopt_table(
    tp: &TablePlan,
    cat: &catalog::Table,
    profile: &TableProfile,
    how: Adopting<'_>,
    decimals: Option<DecimalReading>,
    problems: &mut Vec<String>,
    findings: &mut Vec<Finding>,
) -> TablePlan {
    let Adopting {
        exclude,
        source_zone,
        ..
    } = how;
    let mut columns = Vec::new();
    let mut used = Vec::new();
    let none = ColumnProfile::default();
    for (i, c) in tp
        .columns
        .iter()
        .filter(|c| !c.source.is_empty())
        .enumerate()
    {
        let column_profile = profile.columns.get(i).unwrap_or(&none);
        let path = format!("{}.{}", tp.source, c.source);
        if exclude.iter().any(|g| g.contains('.') && glob(g, &path)) {
            findings.push(note(
                "adopt.excluded",
                format!(
                    "column {}.{}",
                    quote_ident(&tp.source),
                    quote_ident(&c.source)
                ),
                "left out by --exclude".into(),
            ));
            continue;
        }
        let Some((name, folded)) = matching(
            &c.source,
            &c.target,
            cat.columns.iter().map(|k| k.name.as_str()),
        ) else {
            problems.push(format!(
                "column {}.{} has no column in table {} (add it, or leave it out with \
                 --exclude {}.{})",
                quote_ident(&tp.source),
                quote_ident(&c.source),
                quote_ident(&cat.name),
                tp.source,
                c.source
            ));
            continue;
        };
        let Some(k) = cat.columns.iter().find(|k| k.name == name) else {
            continue;
        };
        used.push(k.name.clone());
        let Some(ty) = PgType::from_catalog(k) else {
            problems.push(format!(
                "column {}.{} is {} in PostgreSQL, a type lite2pg does not write",
                quote_ident(&cat.name),
                quote_ident(&k.name),
                k.formatted
            ));
            continue;
        };
        let (conversion, how) = conversion(ty, c, column_profile, source_zone, decimals);
        let source_form = source_form(ty, conversion, c, column_profile);
        if folded {
            findings.push(note(
                "adopt.matched",
                format!(
                    "column {}.{}",
                    quote_ident(&tp.source),
                    quote_ident(&c.source)
                ),
                format!(
                    "loads into {} (names differ in case only)",
                    quote_ident(&k.name)
                ),
            ));
        }
        columns.push(ColumnPlan {
            target: k.name.clone(),
            pg_type: k.formatted.clone(),
            ty,
            reason: format!(
                "{} in the target, made by the application: {how}",
                k.formatted
            ),
            conversion,
            not_null: k.not_null,
            generated: k.generated,
            identity: k.identity,
            rejected_rows: 0,
            source_form,
            ..c.clone()
        });
    }
    let added_rowid = added_rowid(tp, cat);
    if let Some(c) = &added_rowid {
        used.push(c.target.clone());
        columns.push(c.clone());
    }
    for k in cat.columns.iter().filter(|k| !used.contains(&k.name)) {
        if k.not_null && !k.has_default && !k.identity && !k.generated {
            problems.push(format!(
                "column {}.{} is NOT NULL without a default, and SQLite table {} has no \
                 column to fill it",
                quote_ident(&cat.name),
                quote_ident(&k.name),
                quote_ident(&tp.source)
            ));
        }
    }
    let copied = |n: &String| {
        columns
            .iter()
            .any(|c: &ColumnPlan| &c.target == n && !c.generated)
    };
    let row_identity = if !cat.primary_key.is_empty() && cat.primary_key.iter().all(copied) {
        RowIdentity::PrimaryKey {
            columns: cat.primary_key.clone(),
        }
    } else if let Some(c) = added_rowid {
        RowIdentity::AddedRowid { column: c.target }
    } else {
        RowIdentity::None
    };
    TablePlan {
        source: tp.source.clone(),
        target: cat.name.clone(),
        rows: tp.rows,
        without_rowid: tp.without_rowid,
        row_identity,
        columns,
        next_id: None,
        rejected_rows: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::catalog::Column;

    #[test]
    fn catalog_types_map_to_what_the_copier_writes() {
        let col = |typname: &str, typtype: &str, typmod: i32| Column {
            typname: typname.into(),
            typtype: typtype.into(),
            typmod,
            ..Column::default()
        };
        assert_eq!(
            PgType::from_catalog(&col("numeric", "b", (10 << 16) + 2 + 4)),
            Some(PgType::Numeric(Some((10, 2))))
        );
        assert_eq!(
            PgType::from_catalog(&col("varchar", "b", 44)),
            Some(PgType::Varchar(40))
        );
        assert_eq!(
            PgType::from_catalog(&col("varchar", "b", -1)),
            Some(PgType::Text)
        );
        assert_eq!(
            PgType::from_catalog(&col("bpchar", "b", 7)),
            Some(PgType::Char(3))
        );
        assert_eq!(
            PgType::from_catalog(&col("mood", "e", -1)),
            Some(PgType::Enum)
        );
        assert_eq!(
            PgType::from_catalog(&col("interval", "b", -1)),
            Some(PgType::Interval)
        );
        assert_eq!(PgType::from_catalog(&col("tsvector", "b", -1)), None);
    }
}
