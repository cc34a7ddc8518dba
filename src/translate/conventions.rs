//! Following a detected framework's PostgreSQL conventions in the schema lite2pg makes,
//! where the SQLite DDL and the data leave no doubt, so that even without `--data-only`
//! the application reads the types its framework would have made. Each choice is
//! reported. Where the SQLite DDL cannot tell (Django's `bigint` may be a duration, its
//! `decimal` has lost its places), nothing is guessed: the path is `--data-only` into the
//! framework's own schema (docs/frameworks.md).

use crate::model::frameworks::Framework;
use crate::model::Column;
use crate::plan::{Conversion, PgType, SourceForm};
use crate::sqlite::profile::ColumnProfile;

use super::types::TypeChoice;

/// Changes `choice` when a framework in `frameworks` makes this column differently on
/// PostgreSQL and the data fits; returns the finding to report.
pub fn apply(
    frameworks: &[Framework],
    c: &Column,
    p: &ColumnProfile,
    choice: &mut TypeChoice,
) -> Option<String> {
    if !frameworks.contains(&Framework::Django) {
        return None;
    }
    let declared = c.declared_type.to_ascii_lowercase().replace(' ', "");
    let s = &p.counts;
    let only_text = s.integer == 0 && s.real == 0 && s.blob == 0;
    // DateTimeField: aware date-times kept as naive UTC text in SQLite (USE_TZ), made
    // `timestamp with time zone` on PostgreSQL.
    if declared == "datetime" && choice.ty == PgType::Timestamp && only_text && p.text_offset == 0 {
        choice.ty = PgType::TimestampTz;
        choice.conversion = Conversion::NaiveAt { offset_seconds: 0 };
        choice.source_form = Some(SourceForm::NaiveText { offset_seconds: 0 });
        choice.reason = format!(
            "{}; timestamptz, as Django makes a DateTimeField (its SQLite text is UTC)",
            choice.reason
        );
        return Some(
            "Django keeps aware date-times as UTC text without an offset: timestamptz, \
             as Django makes it on PostgreSQL"
                .into(),
        );
    }
    // UUIDField: char(32) holding 32 hex digits, made `uuid`.
    if declared == "char(32)" && only_text && p.text_uuid == s.text && choice.ty != PgType::Uuid {
        choice.ty = PgType::Uuid;
        choice.conversion = Conversion::ToUuid;
        choice.source_form = Some(SourceForm::UuidHex);
        choice.reason = format!("{}; uuid, as Django makes a UUIDField", choice.reason);
        return Some(
            "Django keeps UUIDs as 32 hex digits in char(32): uuid, as Django makes it on \
             PostgreSQL"
                .into(),
        );
    }
    None
}
