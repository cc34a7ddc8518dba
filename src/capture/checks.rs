//! What a switch checks before and inside its write freeze: which tables to verify, the
//! rows written since the last verification (compared before the freeze, and once more
//! inside it), and rows whose foreign key points at no row.

use std::collections::HashMap;

use super::context::Ctx;
use crate::error::{Error, Result};
use crate::pg::orphans::{self, ForeignKey, Narrow};
use crate::pg::{qualified, quote_ident, Client};

/// Tables to verify: every table with `--verify full`, else those the appliers wrote since
/// the last verification and those sync cannot follow.
pub(crate) fn tables_to_verify(client: &Client, ctx: &Ctx, full: bool) -> Result<Vec<String>> {
    if full {
        return Ok(ctx.plan.tables.iter().map(|t| t.target.clone()).collect());
    }
    let rows = client.query(
        "reading the tables written since the last verification",
        "SELECT touched FROM lite2pg.sync_state WHERE target_schema = $1",
        &[&ctx.schema_name],
    )?;
    let mut tables: Vec<String> = rows
        .first()
        .map(|r| r.get::<_, Vec<String>>(0))
        .unwrap_or_default();
    for t in &ctx.unsynced {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    Ok(tables)
}

/// Compares the rows written since the last verification while writers still run, and
/// takes them off the list the freeze compares: claimed (deleted) first, so a key written
/// again meanwhile is put back by the applier; keys that differ (most often because they
/// changed while being read) are put back too. Returns how many rows compared equal.
pub(crate) fn verify_before_freeze(ctx: &Ctx, client: &Client) -> Result<u64> {
    let claimed = client.query(
        "claiming the keys written since the last verification",
        "DELETE FROM lite2pg.sync_touched_keys WHERE target_schema = $1 \
         RETURNING target_name, key",
        &[&ctx.schema_name],
    )?;
    let mut only: HashMap<String, Vec<i64>> = Default::default();
    for r in &claimed {
        only.entry(r.get(0)).or_default().push(r.get(1));
    }
    let put_back = |keys: &[(String, i64)]| -> Result<()> {
        let (names, values): (Vec<String>, Vec<i64>) = keys.iter().cloned().unzip();
        client.query(
            "putting keys back on the list for the freeze",
            "INSERT INTO lite2pg.sync_touched_keys (target_schema, target_name, key) \
             SELECT $1, n, k FROM unnest($2::text[], $3::int8[]) AS u(n, k) \
             ON CONFLICT DO NOTHING",
            &[&ctx.schema_name, &names, &values],
        )?;
        Ok(())
    };
    let all: Vec<(String, i64)> = only
        .iter()
        .flat_map(|(t, ks)| ks.iter().map(move |k| (t.clone(), *k)))
        .collect();
    if all.is_empty() {
        return Ok(0);
    }
    let mut plan = ctx.plan.clone();
    plan.tables.retain(|t| only.contains_key(&t.target));
    let outcome = (|| {
        let src = crate::sqlite::open_source(&ctx.source)?;
        let opts = crate::verify::Options {
            max_mismatches: usize::MAX,
            only_keys: Some(std::sync::Arc::new(only.clone())),
            ..Default::default()
        };
        crate::verify::compare_tables(&src, &plan, &ctx.target, client, &opts)
    })();
    let results = match outcome {
        Ok((results, _)) => results,
        Err(e) => {
            put_back(&all)?;
            return Err(e);
        }
    };
    let mut again: Vec<(String, i64)> = Vec::new();
    for t in &results {
        if t.status == crate::verify::TableStatus::Match {
            continue;
        }
        let keys: Option<Vec<i64>> = t
            .mismatches
            .iter()
            .map(|m| {
                m.key
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(|v| v.as_i64())
            })
            .collect();
        match keys {
            Some(keys) if !t.mismatches_truncated => {
                again.extend(keys.into_iter().map(|k| (t.target_name.clone(), k)))
            }
            // Not read key by key: the whole table's claimed keys go back.
            _ => again.extend(
                only.get(&t.target_name)
                    .into_iter()
                    .flatten()
                    .map(|k| (t.target_name.clone(), *k)),
            ),
        }
    }
    put_back(&again)?;
    Ok((all.len() - again.len().min(all.len())) as u64)
}

/// Compares `tables` between the two sides: every row, or with `touched` (the keys written
/// since the last verification, [`touched_keys`]) just those rows of tables keyed by one
/// integer; an error names the differing tables.
pub(crate) fn verify_tables(
    ctx: &Ctx,
    client: &Client,
    tables: &[String],
    touched: Option<&HashMap<String, Vec<i64>>>,
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let mut plan = ctx.plan.clone();
    plan.tables.retain(|t| tables.contains(&t.target));
    let mut opts = crate::verify::Options {
        schema_check: touched.is_none(),
        ..Default::default()
    };
    if let Some(touched) = touched {
        let only: HashMap<String, Vec<i64>> = ctx
            .specs
            .iter()
            .filter(|s| s.int_key() && tables.contains(&s.target))
            .map(|s| {
                let keys = touched.get(&s.target).cloned().unwrap_or_default();
                (s.target.clone(), keys)
            })
            .collect();
        // Nothing written since the last verification: nothing to compare.
        plan.tables
            .retain(|t| only.get(&t.target).is_none_or(|keys| !keys.is_empty()));
        opts.only_keys = Some(std::sync::Arc::new(only));
    }
    if plan.tables.is_empty() {
        return Ok(());
    }
    let src = crate::sqlite::open_source(&ctx.source)?;
    let (results, _) = crate::verify::compare_tables(&src, &plan, &ctx.target, client, &opts)?;
    let bad: Vec<String> = results
        .iter()
        .filter(|t| t.status != crate::verify::TableStatus::Match)
        .map(|t| {
            format!(
                "{} ({} differing row(s){})",
                quote_ident(&t.target_name),
                t.mismatch_count,
                t.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "verification found differences in {}; run `lite2pg verify {} --report diff.html` \
             to see them",
            bad.join(", "),
            ctx.source.display()
        )))
    }
}

/// Why a switch refuses rows that reference missing parents.
pub(crate) fn orphan_refusal(orphans: &[String]) -> String {
    format!(
        "rows reference missing parents (SQLite did not enforce these foreign keys): {}; fix \
         them in SQLite, or accept them with --allow-orphans (the constraints then stay \
         unenforced for those rows)",
        orphans.join("; ")
    )
}

/// Every table of the plan, by PostgreSQL name.
pub(crate) fn all_tables(ctx: &Ctx) -> Vec<String> {
    ctx.plan.tables.iter().map(|t| t.target.clone()).collect()
}

/// The keys written since the last verification, per table keyed by one integer.
pub(crate) fn touched_keys(client: &Client, ctx: &Ctx) -> Result<HashMap<String, Vec<i64>>> {
    let rows = client.query(
        "reading the keys written since the last verification",
        "SELECT target_name, array_agg(key ORDER BY key) FROM lite2pg.sync_touched_keys \
         WHERE target_schema = $1 GROUP BY target_name",
        &[&ctx.schema_name],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Rows whose foreign key points at no row, per constraint, among tables in `tables`.
/// With `only` (keys written since the last verification, per integer-keyed table), just the
/// rows that can have become orphans since: child rows written, and children of parent keys
/// written, when the key is the referenced column; other constraints are checked whole.
pub(crate) fn orphans(
    client: &Client,
    ctx: &Ctx,
    tables: &[String],
    only: Option<&HashMap<String, Vec<i64>>>,
) -> Result<Vec<String>> {
    let fks = client.query(
        "reading the foreign keys",
        "SELECT c.conname, cl.relname, fl.relname, \
                array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), \
                array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) \
         FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid \
         JOIN pg_class fl ON fl.oid = c.confrelid JOIN pg_namespace n ON n.oid = cl.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = $1",
        &[&ctx.schema_name],
    )?;
    let mut out = Vec::new();
    for fk in fks {
        let name: String = fk.get(0);
        let child: String = fk.get(1);
        let parent: String = fk.get(2);
        if !tables.contains(&child) && !tables.contains(&parent) {
            continue;
        }
        let cols: Vec<String> = fk.get(3);
        let refs: Vec<String> = fk.get(4);
        let int_key = |t: &str| {
            ctx.specs
                .iter()
                .find(|s| s.target == t && s.int_key())
                .map(|s| s.pg_key[0].clone())
        };
        let none: Vec<i64> = Vec::new();
        // (condition, child keys, parent keys) narrowing the check to what was written.
        let narrow = only.and_then(|only| {
            let child_key = int_key(&child)?;
            let parent_by_key = cols.len() == 1 && int_key(&parent).is_some_and(|k| refs == [k]);
            let written_parents = only.get(&parent).unwrap_or(&none);
            if !written_parents.is_empty() && !parent_by_key {
                return None;
            }
            Some((
                format!(
                    "(c.{} = ANY($1) OR c.{} = ANY($2))",
                    quote_ident(&child_key),
                    quote_ident(&cols[0])
                ),
                only.get(&child).unwrap_or(&none).clone(),
                written_parents.clone(),
            ))
        });
        if narrow
            .as_ref()
            .is_some_and(|(_, c, p)| c.is_empty() && p.is_empty())
        {
            continue;
        }
        let (child_table, parent_table) = (
            qualified(&ctx.schema_name, &child),
            qualified(&ctx.schema_name, &parent),
        );
        let key = ForeignKey {
            table: &child_table,
            columns: &cols,
            ref_table: &parent_table,
            ref_columns: &refs,
        };
        let n = match &narrow {
            Some((condition, first, second)) => orphans::count(
                client,
                &key,
                Some(&Narrow {
                    condition,
                    first,
                    second,
                }),
            )?,
            None => orphans::count(client, &key, None)?,
        };
        if n > 0 {
            out.push(format!(
                "{n} row(s) of {} reference no row of {} ({})",
                quote_ident(&child),
                quote_ident(&parent),
                quote_ident(&name)
            ));
        }
    }
    Ok(out)
}
