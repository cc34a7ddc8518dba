//! The copier's job for each table a run copies: columns, codecs, key, and the key
//! ranges still to copy.

use std::collections::HashMap;

use crate::copy::{keys, TableJob};
use crate::error::{Error, Result};
use crate::model::Schema;
use crate::pg::{qualified, quote_ident};
use crate::plan::Plan;

/// The copier's jobs: every selected table with key ranges left to copy, largest first.
pub fn jobs_for(
    plan: &Plan,
    schema: &Schema,
    done: &HashMap<String, Vec<keys::Done>>,
) -> Result<Vec<TableJob>> {
    let mut tables: Vec<_> = plan.tables.iter().collect();
    tables.sort_by_key(|t| std::cmp::Reverse(t.rows));
    let mut jobs = Vec::new();
    for tp in tables {
        let Some(t) = schema.tables.iter().find(|t| t.name == tp.source) else {
            continue;
        };
        let none = Vec::new();
        let gaps = keys::gaps(done.get(&tp.target).unwrap_or(&none)).ok_or_else(|| {
            Error::Usage(format!(
                "the control schema's chunk records for table {} are unreadable; start over \
                 with --replace",
                quote_ident(&tp.target)
            ))
        })?;
        if gaps.is_empty() {
            continue;
        }
        let alias = t
            .columns
            .iter()
            .find(|c| c.rowid_alias)
            .map(|c| c.name.clone());
        let key_columns = if t.without_rowid {
            t.primary_key.clone()
        } else {
            Vec::new()
        };
        let key_names = if t.without_rowid {
            t.primary_key.clone()
        } else {
            vec![alias.unwrap_or_else(|| "rowid".into())]
        };
        jobs.push(TableJob {
            source: tp.source.clone(),
            target: tp.target.clone(),
            qualified: qualified(&plan.options.schema, &tp.target),
            key_columns,
            key_names,
            columns: crate::copy::copy_columns(tp),
            gaps,
        });
    }
    Ok(jobs)
}
