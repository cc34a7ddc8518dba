//! How one captured table is applied, worked out once from the plan the synced tables were
//! made by and the live SQLite schema: the key as SQLite logs it and as PostgreSQL keys the
//! table, the columns with their codecs, the SQL both appliers run, and the target's other
//! unique indexes (which INSERT OR REPLACE can conflict with).
//!
//! The row identity itself is the translator's decision (`plan::RowIdentity`); a spec only
//! maps it onto the captured key, which logs the rowid and the primary-key columns because
//! capture is armed before the plan exists.

use super::sqlite_log::CaptureTable;
use crate::copy::encode::Codec;
use crate::copy::CopyColumn;
use crate::error::{Error, Result};
use crate::model::Schema;
use crate::pg::{qualified, quote_ident, Client};
use crate::plan::{Plan, RowIdentity, TablePlan};

/// How one captured table is applied.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name.
    pub target: String,
    pub(crate) qualified: String,
    /// Positions in the logged key of the values PostgreSQL keys by.
    pub(crate) key_pos: Vec<usize>,
    /// PostgreSQL key columns.
    pub(crate) pg_key: Vec<String>,
    /// SQLite names of the same key (a rowid name for the rowid).
    pub(crate) sqlite_key: Vec<String>,
    pub(crate) key_codecs: Vec<Codec>,
    pub(crate) columns: Vec<CopyColumn>,
    pub(crate) select: String,
    /// Unique indexes other than the key: (column or expression list, predicate).
    pub(crate) unique: Vec<(String, Option<String>)>,
    pub(crate) stage: String,
    pub(crate) keys_table: String,
    pub(crate) rowid: String,
    /// No key in PostgreSQL: rows are matched by every column, and a key stands for every
    /// row equal to it (none, one or several).
    pub(crate) multiset: bool,
    /// The condition picking a key's rows in SQLite, with the key as `?1`, `?2`, ….
    pub(crate) sqlite_where: String,
    /// The key columns' types as PostgreSQL's catalog prints them (enums by name), for
    /// casts in SQL.
    pub(crate) pg_key_types: Vec<String>,
    /// Whether each key column is NOT NULL in PostgreSQL (its catalog, for adopted tables).
    pub(crate) key_not_null: Vec<bool>,
}

impl TableSpec {
    /// The condition matching a row `t` to a key row `k` (`alias`) on every key column:
    /// `=`, or `IS NOT DISTINCT FROM` for a multiset, whose columns may hold NULL.
    /// A NOT NULL column keeps `=`, which an index on it serves.
    pub fn key_join(&self, alias: &str) -> String {
        self.pg_key
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let op = if self.multiset && !self.key_not_null.get(n).copied().unwrap_or(false) {
                    "IS NOT DISTINCT FROM"
                } else {
                    "="
                };
                format!("t.{q} {op} {alias}.{q}", q = quote_ident(c))
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The qualified, quoted PostgreSQL table.
    pub fn qualified(&self) -> &str {
        &self.qualified
    }

    /// Whether PostgreSQL keys the table by one integer column (verification can then
    /// compare just the changed rows).
    pub fn int_key(&self) -> bool {
        matches!(self.key_codecs[..], [c] if c.ty.is_integer()
            && matches!(c.conversion, crate::plan::Conversion::AsIs))
    }

    /// The name that reaches the SQLite rowid (`rowid`, or `_rowid_`/`oid` when a column is
    /// called `rowid`).
    pub fn rowid_name(&self) -> &str {
        &self.rowid
    }
}

/// The SQLite tables to capture for `schema`, in its order.
pub fn capture_tables(schema: &Schema) -> Vec<CaptureTable> {
    schema
        .tables
        .iter()
        .filter_map(CaptureTable::for_table)
        .collect()
}

/// The tables of a plan sync follows, and those it cannot.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    /// How each followed table is applied.
    pub specs: Vec<TableSpec>,
    /// PostgreSQL names of tables whose changes cannot be captured (SQLite allows no
    /// triggers on a virtual table, such as an FTS index): cutover and rollback compare
    /// them whole instead.
    pub unsynced: Vec<String>,
}

/// How each table of `plan` is applied, from the live SQLite `schema` (for the logged key)
/// and the plan (for names, types and row identity).
pub fn specs(plan: &Plan, schema: &Schema) -> Result<Specs> {
    let mut out = Specs::default();
    for (i, tp) in plan.tables.iter().enumerate() {
        let table = schema
            .tables
            .iter()
            .find(|t| t.name == tp.source)
            .ok_or_else(|| {
                Error::Refused(format!(
                    "table {} was migrated but is no longer in the SQLite file: the source's \
                     schema changed; sync cannot follow a schema change (migrate again with \
                     `lite2pg sync --replace`)",
                    quote_ident(&tp.source)
                ))
            })?;
        if table.virtual_module.is_some() {
            out.unsynced.push(tp.target.clone());
            continue;
        }
        let capture = CaptureTable::for_table(table).ok_or_else(|| {
            Error::Refused(format!(
                "table {} has no rowid and no primary key, so its changes cannot be captured",
                quote_ident(&tp.source)
            ))
        })?;
        out.specs.push(spec_for(plan, tp, table, &capture, i)?);
    }
    Ok(out)
}

/// How `tp`'s rows are told apart on both sides: the captured key's positions and names,
/// PostgreSQL's key columns and codecs, and whether the table is a multiset.
struct KeyMatch {
    key_pos: Vec<usize>,
    pg_key: Vec<String>,
    key_codecs: Vec<Codec>,
    sqlite_key: Vec<String>,
    multiset: bool,
}

/// Matches `tp`'s row identity in PostgreSQL to the key capture logs for `table`.
fn match_key(
    tp: &TablePlan,
    table: &crate::model::Table,
    capture: &CaptureTable,
) -> Result<KeyMatch> {
    let codec_of = |target: &str| {
        tp.columns
            .iter()
            .find(|c| c.target == target)
            .map(|c| Codec {
                ty: c.ty,
                conversion: c.conversion,
            })
    };
    let alias = table
        .columns
        .iter()
        .find(|c| c.rowid_alias)
        .map(|c| c.name.clone());
    let mut key_pos = Vec::new();
    let mut pg_key = Vec::new();
    let mut key_codecs = Vec::new();
    let mut sqlite_key = Vec::new();
    let mut multiset = false;
    let unsupported = || {
        Error::Refused(format!(
            "table {}: its row identity cannot be matched to the captured key",
            quote_ident(&tp.source)
        ))
    };
    match &tp.row_identity {
        RowIdentity::PrimaryKey { columns } => {
            for target in columns {
                let col = tp
                    .columns
                    .iter()
                    .find(|c| &c.target == target)
                    .ok_or_else(unsupported)?;
                let pos = if !table.without_rowid && alias.as_deref() == Some(&col.source) {
                    0
                } else {
                    capture
                        .key
                        .iter()
                        .position(|k| k == &col.source)
                        .ok_or_else(unsupported)?
                };
                key_pos.push(pos);
                pg_key.push(target.clone());
                key_codecs.push(codec_of(target).ok_or_else(unsupported)?);
                sqlite_key.push(capture.key[pos].clone());
            }
        }
        RowIdentity::AddedRowid { column } => {
            if table.without_rowid {
                return Err(unsupported());
            }
            key_pos.push(0);
            pg_key.push(column.clone());
            key_codecs.push(codec_of(column).ok_or_else(unsupported)?);
            sqlite_key.push(capture.key[0].clone());
        }
        // No key in PostgreSQL (a framework's join table): the rows are a multiset, keyed
        // by every column copied, which capture logs for a table without a key.
        RowIdentity::None => {
            if table.without_rowid || !table.primary_key.is_empty() {
                return Err(unsupported());
            }
            for c in tp
                .columns
                .iter()
                .filter(|c| !c.generated && !c.source.is_empty())
            {
                let pos = capture
                    .key
                    .iter()
                    .skip(1)
                    .position(|k| k == &c.source)
                    .map(|p| p + 1)
                    .ok_or_else(unsupported)?;
                key_pos.push(pos);
                pg_key.push(c.target.clone());
                key_codecs.push(codec_of(&c.target).ok_or_else(unsupported)?);
                sqlite_key.push(capture.key[pos].clone());
            }
            multiset = true;
        }
    }
    Ok(KeyMatch {
        key_pos,
        pg_key,
        key_codecs,
        sqlite_key,
        multiset,
    })
}

fn spec_for(
    plan: &Plan,
    tp: &TablePlan,
    table: &crate::model::Table,
    capture: &CaptureTable,
    i: usize,
) -> Result<TableSpec> {
    let KeyMatch {
        key_pos,
        pg_key,
        key_codecs,
        sqlite_key,
        multiset,
    } = match_key(tp, table, capture)?;
    let rowid_name = capture
        .key
        .first()
        .cloned()
        .unwrap_or_else(|| "rowid".into());
    let columns: Vec<CopyColumn> = crate::copy::copy_columns(tp);
    let sqlite_name = |n: &str| {
        if table.is_rowid_name(n) {
            n.to_string()
        } else {
            quote_ident(n)
        }
    };
    // `IS`: a multiset's key columns may hold NULL, which `=` never matches.
    let op = if multiset { "IS" } else { "=" };
    let sqlite_where = sqlite_key
        .iter()
        .enumerate()
        .map(|(n, k)| format!("{} {op} ?{}", sqlite_name(k), n + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let select = format!(
        "SELECT {} FROM {} WHERE {}",
        columns
            .iter()
            .map(|c| match &c.source {
                Some(s) => quote_ident(s),
                None => rowid_name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        quote_ident(&tp.source),
        sqlite_where,
    );
    let key_column = |k: &String| tp.columns.iter().find(|c| &c.target == k);
    let pg_key_types = pg_key
        .iter()
        .map(|k| key_column(k).map_or_else(|| "text".into(), |c| c.pg_type.clone()))
        .collect();
    let key_not_null = pg_key
        .iter()
        .map(|k| key_column(k).is_some_and(|c| c.not_null))
        .collect();
    Ok(TableSpec {
        source: tp.source.clone(),
        target: tp.target.clone(),
        qualified: qualified(&plan.options.schema, &tp.target),
        key_pos,
        pg_key,
        sqlite_key,
        key_codecs,
        columns,
        select,
        sqlite_where,
        unique: Vec::new(),
        stage: format!("pg_temp.{}", quote_ident(&format!("_lite2pg_s{i}"))),
        keys_table: format!("pg_temp.{}", quote_ident(&format!("_lite2pg_k{i}"))),
        rowid: rowid_name,
        multiset,
        pg_key_types,
        key_not_null,
    })
}

/// The unique indexes of `spec`'s table other than its key, as (key expressions, predicate),
/// leaving out those on generated columns (the staged rows do not have them).
pub(crate) fn unique_indexes(
    client: &Client,
    spec: &TableSpec,
) -> Result<Vec<(String, Option<String>)>> {
    let rows = client.query(
        &format!("reading the unique indexes of {}", spec.qualified),
        "SELECT array(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                      FROM generate_series(1, i.indnkeyatts) k ORDER BY k), \
                pg_get_expr(i.indpred, i.indrelid, true), \
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid \
                        AND a.attgenerated <> '' AND (a.attnum = ANY (i.indkey) \
                        OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                                   AND d.objid = i.indexrelid AND d.refobjid = i.indrelid \
                                   AND d.refobjsubid = a.attnum))) \
         FROM pg_index i WHERE i.indrelid = $1::text::regclass AND i.indisunique AND i.indisvalid",
        &[&spec.qualified],
    )?;
    // pg_get_indexdef quotes a column name only when it must.
    let quoted: Vec<String> = spec.pg_key.iter().map(|c| quote_ident(c)).collect();
    let mut out = Vec::new();
    for r in rows {
        let exprs: Vec<String> = r.get(0);
        let pred: Option<String> = r.get(1);
        let on_generated: bool = r.get(2);
        let is_key = exprs.len() == spec.pg_key.len()
            && exprs
                .iter()
                .zip(spec.pg_key.iter().zip(&quoted))
                .all(|(e, (raw, q))| e == raw || e == q);
        if on_generated || (pred.is_none() && is_key) {
            continue;
        }
        out.push((exprs.join(", "), pred));
    }
    Ok(out)
}
