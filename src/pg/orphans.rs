//! Rows whose foreign key points at no row (orphans): one query for `migrate`, which counts
//! and samples them when `VALIDATE CONSTRAINT` fails, and for the switches, which count them
//! before and inside the write freeze.
//!
//! SQLite enforces foreign keys only when the application asks, so orphans are common in
//! real files; they are reported, never deleted.

use serde_json::Value as Json;

use super::{quote_ident, Client};
use crate::error::Result;

/// A foreign key as the orphan query reads it.
#[derive(Debug, Clone, Copy)]
pub struct ForeignKey<'a> {
    /// The referencing table, qualified and quoted.
    pub table: &'a str,
    /// Its referencing columns, unquoted.
    pub columns: &'a [String],
    /// The referenced table, qualified and quoted.
    pub ref_table: &'a str,
    /// The referenced columns, unquoted.
    pub ref_columns: &'a [String],
}

/// Narrows the check to some rows: an extra condition on the referencing row (alias `c`)
/// that may use the two bound key lists `$1` and `$2`.
#[derive(Debug, Clone, Copy)]
pub struct Narrow<'a> {
    /// The condition, built from quoted names and `$1`/`$2` only.
    pub condition: &'a str,
    /// `$1`.
    pub first: &'a [i64],
    /// `$2`.
    pub second: &'a [i64],
}

/// `FROM child c WHERE [narrow AND] <columns not null> AND NOT EXISTS (parent row)`.
fn orphan_rows(fk: &ForeignKey<'_>, narrow: Option<&Narrow<'_>>) -> String {
    let not_null: Vec<String> = fk
        .columns
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", quote_ident(c)))
        .collect();
    let join: Vec<String> = fk
        .columns
        .iter()
        .zip(fk.ref_columns)
        .map(|(c, r)| format!("p.{} = c.{}", quote_ident(r), quote_ident(c)))
        .collect();
    let narrow = narrow
        .map(|n| format!("{} AND ", n.condition))
        .unwrap_or_default();
    format!(
        "FROM {} c WHERE {narrow}{} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})",
        fk.table,
        not_null.join(" AND "),
        fk.ref_table,
        join.join(" AND ")
    )
}

/// How many rows of `fk`'s table (or of those `narrow` selects) reference no row.
pub fn count(client: &Client, fk: &ForeignKey<'_>, narrow: Option<&Narrow<'_>>) -> Result<i64> {
    let sql = format!("SELECT count(*) {}", orphan_rows(fk, narrow));
    let context = format!("counting the rows of {} that reference no row", fk.table);
    let rows = match narrow {
        Some(n) => client.query(&context, &sql, &[&n.first, &n.second])?,
        None => client.query(&context, &sql, &[])?,
    };
    Ok(rows.first().map(|r| r.get(0)).unwrap_or(0))
}

/// The `identity` columns of up to `limit` orphans of `fk`, one JSON object each.
pub fn sample(
    client: &Client,
    fk: &ForeignKey<'_>,
    identity: &[String],
    limit: i64,
) -> Result<Vec<Json>> {
    let ids: Vec<String> = identity
        .iter()
        .map(|c| format!("c.{}", quote_ident(c)))
        .collect();
    let sql = format!(
        "SELECT row_to_json(k)::text FROM (SELECT {} {} LIMIT $1) k",
        ids.join(", "),
        orphan_rows(fk, None)
    );
    Ok(client
        .query(
            &format!("sampling the rows of {} that reference no row", fk.table),
            &sql,
            &[&limit],
        )?
        .iter()
        .filter_map(|r| serde_json::from_str(&r.get::<_, String>(0)).ok())
        .collect())
}
