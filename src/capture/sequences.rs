//! Identity sequences and SQLite's `sqlite_sequence` set past the ids either side handed
//! out, so the new primary's next insert never reuses an id (AUTOINCREMENT's promise).

use super::context::{sqlite_err, Ctx};
use crate::error::Result;
use crate::pg::{qualified, quote_ident, Client};

/// Moves every identity sequence past the ids used on either side (SQLite's
/// `sqlite_sequence` included, so AUTOINCREMENT ids are never reused).
pub(crate) fn set_sequences(
    client: &Client,
    ctx: &Ctx,
    sqlite: &rusqlite::Connection,
) -> Result<Vec<String>> {
    let has_seq: bool = sqlite
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err(&ctx.source, "reading sqlite_sequence"))?;
    let mut out = Vec::new();
    for t in &ctx.plan.tables {
        for c in t.columns.iter().filter(|c| has_sequence(&ctx.plan, c)) {
            let q = qualified(&ctx.schema_name, &t.target);
            // A catalog lookup first: no scan for the many integer columns without one.
            if !c.identity {
                let seq: Option<String> = client
                    .query(
                        "looking for the column's sequence",
                        "SELECT pg_get_serial_sequence($1, $2)",
                        &[&q, &c.target],
                    )?
                    .first()
                    .and_then(|r| r.get(0));
                if seq.is_none() {
                    continue;
                }
            }
            let used: i64 = if has_seq {
                sqlite
                    .query_row(
                        "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?1",
                        [&t.source],
                        |r| r.get(0),
                    )
                    .map_err(sqlite_err(&ctx.source, "reading sqlite_sequence"))?
            } else {
                0
            };
            let max_sql = format!(
                "SELECT coalesce(max({}), 0)::int8 FROM {q}",
                quote_ident(&c.target)
            );
            let max: i64 = client
                .query("reading the highest id", &max_sql, &[])?
                .first()
                .map(|r| r.get(0))
                .unwrap_or(0);
            let n = used.max(max);
            let rows = client.query(
                &format!("moving the identity of {q} past {n}"),
                "SELECT setval(s, greatest($3::int8, 1), $3::int8 >= 1) \
                 FROM (SELECT pg_get_serial_sequence($1, $2) AS s) q WHERE s IS NOT NULL",
                &[&q, &c.target, &n],
            )?;
            if !rows.is_empty() {
                out.push(format!(
                    "{}.{} > {n}",
                    quote_ident(&t.target),
                    quote_ident(&c.target)
                ));
            }
        }
    }
    Ok(out)
}

/// Sets SQLite's AUTOINCREMENT counters past every id PostgreSQL handed out.
pub(crate) fn restore_sqlite_sequence(
    client: &Client,
    ctx: &Ctx,
    tx: &rusqlite::Connection,
) -> Result<()> {
    let has_seq: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err(&ctx.source, "reading sqlite_sequence"))?;
    if !has_seq {
        return Ok(());
    }
    for t in &ctx.plan.tables {
        for c in t
            .columns
            .iter()
            .filter(|c| has_sequence(&ctx.plan, c) && !c.source.is_empty())
        {
            let q = qualified(&ctx.schema_name, &t.target);
            let last: Option<i64> = client
                .query(
                    "reading PostgreSQL's last id",
                    "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass)",
                    &[&q, &c.target],
                )?
                .first()
                .and_then(|r| r.get(0));
            let Some(last) = last else { continue };
            tx.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                rusqlite::params![t.source, last],
            )
            .map_err(sqlite_err(&ctx.source, "updating sqlite_sequence"))?;
        }
    }
    Ok(())
}

/// Whether a column may have a sequence behind it: an identity, or, in a framework's
/// schema, any integer column (serial columns, Rails' and Laravel's keys, are no
/// identities; `pg_get_serial_sequence` tells).
fn has_sequence(plan: &crate::plan::Plan, c: &crate::plan::ColumnPlan) -> bool {
    c.identity || plan.adopted && c.ty.is_integer() && !c.generated
}
