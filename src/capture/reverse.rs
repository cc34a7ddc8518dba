//! The reverse applier: after a cutover, PostgreSQL's changes → SQLite, so the team can roll
//! back with nothing lost.
//!
//! ```text
//! PG:     BEGIN; lock the sync_state row; read a batch of lite2pg.pg_changes (keys)
//!         read the current rows for those keys, each column turned back into the value
//!         SQLite stored (0/1 for booleans, ISO text for dates, the epoch unit it used, ...)
//! SQLite: BEGIN IMMEDIATE; applying = 1 (guards let it through, nothing is captured);
//!         DELETE the touched keys; INSERT OR REPLACE the current rows (SQLite itself removes
//!         rows that conflict on another unique key); applying = 0; COMMIT
//! PG:     DELETE exactly the consumed change rows; COMMIT
//! ```
//!
//! Consuming by deleting the rows read, rather than advancing a position, means a change
//! committed late by a concurrent transaction (a lower `seq` that becomes visible after a
//! higher one) is never skipped. A crash between the two commits re-applies the batch,
//! which writes the same current rows again.

use std::collections::{HashMap, HashSet};

use rusqlite::types::Value;
use serde_json::Value as Json;

use super::applier::{Applied, Applier};
use super::spec::TableSpec;
use super::sqlite_log as cap;
use super::Side;
use crate::error::{Error, Result};
use crate::pg::{quote_ident, quote_literal, Client};
use crate::plan::{Conversion, PgType, SourceForm};
use crate::sqlite::temporal::EpochUnit;

/// How a column's PostgreSQL value comes back as a SQLite value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Back {
    Int,
    Real,
    Text,
    /// `numeric` as text: an integer when it is one, else a double when that is exact.
    Num,
    Blob,
    /// `timestamptz` as UTC text with a `Z`.
    TextUtc,
}

/// A wall time (`local`, a `timestamp` expression) as Python's `str(datetime)` writes it:
/// the fraction only when there is one.
fn naive_text(local: &str) -> (String, Back) {
    (
        format!(
            "CASE WHEN extract(microseconds FROM {local})::int8 % 1000000 = 0 \
             THEN to_char({local}, 'YYYY-MM-DD HH24:MI:SS') \
             ELSE to_char({local}, 'YYYY-MM-DD HH24:MI:SS.US') END"
        ),
        Back::Text,
    )
}

/// The back expression for a column the application stored in SQLite in `form`.
fn form_expr(c: &str, form: SourceForm) -> (String, Back) {
    match form {
        SourceForm::UuidHex => (format!("replace(({c})::text, '-', '')"), Back::Text),
        SourceForm::UuidText => (format!("({c})::text"), Back::Text),
        SourceForm::UuidBlob => (
            format!("decode(replace(({c})::text, '-', ''), 'hex')"),
            Back::Blob,
        ),
        SourceForm::IntervalMicros => (
            format!("round(extract(epoch FROM {c}) * 1000000)::int8"),
            Back::Int,
        ),
        SourceForm::IntervalDateTime => (
            format!("to_char(timestamp '1970-01-01' + {c}, 'YYYY-MM-DD HH24:MI:SS.US')"),
            Back::Text,
        ),
        SourceForm::IntervalIso => (
            format!("'PT' || extract(epoch FROM {c})::text || 'S'"),
            Back::Text,
        ),
        // As Python's `str(datetime)` writes it: the fraction only when there is one.
        SourceForm::NaiveText { offset_seconds } => naive_text(&format!(
            "(({c}) AT TIME ZONE 'UTC') + make_interval(secs => {offset_seconds})"
        )),
        SourceForm::NaiveTextIn { zone } => naive_text(&format!(
            "(({c}) AT TIME ZONE {})",
            quote_literal(&zone.name())
        )),
        SourceForm::BoolText => (
            format!("CASE WHEN {c} THEN 't' WHEN NOT {c} THEN 'f' END"),
            Back::Text,
        ),
        SourceForm::TimeOnDummyDate => (
            format!("to_char(date '2000-01-01' + {c}, 'YYYY-MM-DD HH24:MI:SS.US')"),
            Back::Text,
        ),
        SourceForm::InetText => (
            format!(
                "CASE WHEN masklen({c}) = CASE family({c}) WHEN 4 THEN 32 ELSE 128 END \
                 THEN host({c}) ELSE ({c})::text END"
            ),
            Back::Text,
        ),
    }
}

/// The SELECT expression that turns column `c` (already qualified and quoted) into the
/// value SQLite stored, and how to read it.
fn back_expr(
    c: &str,
    ty: PgType,
    conversion: Conversion,
    form: Option<SourceForm>,
) -> (String, Back) {
    if let Some(form) = form {
        return form_expr(c, form);
    }
    let temporal = matches!(
        ty,
        PgType::Date | PgType::Timestamp | PgType::TimestampTz | PgType::Time | PgType::TimeTz
    );
    if temporal {
        match conversion {
            Conversion::Epoch { unit } => {
                let factor = match unit {
                    EpochUnit::Seconds => "1",
                    EpochUnit::Millis => "1000",
                    EpochUnit::Micros => "1000000",
                };
                return (
                    format!("round(extract(epoch FROM {c}) * {factor})::int8"),
                    Back::Int,
                );
            }
            Conversion::JulianDay => {
                return (
                    format!("(extract(epoch FROM {c}) / 86400 + 2440587.5)::float8"),
                    Back::Real,
                );
            }
            _ => {}
        }
    }
    match ty {
        PgType::Boolean => (format!("({c})::int::int8"), Back::Int),
        PgType::SmallInt | PgType::Integer | PgType::BigInt => (format!("({c})::int8"), Back::Int),
        PgType::Double | PgType::Real => (format!("({c})::float8"), Back::Real),
        PgType::Numeric(_) => (format!("({c})::text"), Back::Num),
        PgType::Bytea => (c.to_string(), Back::Blob),
        PgType::TimestampTz => (format!("({c})::text"), Back::TextUtc),
        _ => (format!("({c})::text"), Back::Text),
    }
}

fn read_back(row: &tokio_postgres::Row, i: usize, back: Back) -> Value {
    match back {
        Back::Int => row
            .get::<_, Option<i64>>(i)
            .map_or(Value::Null, Value::Integer),
        Back::Real => row
            .get::<_, Option<f64>>(i)
            .map_or(Value::Null, Value::Real),
        Back::Blob => row
            .get::<_, Option<Vec<u8>>>(i)
            .map_or(Value::Null, Value::Blob),
        Back::Text => row
            .get::<_, Option<String>>(i)
            .map_or(Value::Null, Value::Text),
        Back::TextUtc => row.get::<_, Option<String>>(i).map_or(Value::Null, |s| {
            Value::Text(match s.strip_suffix("+00") {
                Some(t) => format!("{t}Z"),
                None => s,
            })
        }),
        Back::Num => row.get::<_, Option<String>>(i).map_or(Value::Null, |s| {
            if let Ok(n) = s.parse::<i64>() {
                Value::Integer(n)
            } else if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
                Value::Real(f)
            } else {
                Value::Text(s)
            }
        }),
    }
}

/// Rows read with `exprs` ([`back_expr`]), as SQLite values.
fn read_rows(rows: &[tokio_postgres::Row], exprs: &[(String, Back)]) -> Vec<Vec<Value>> {
    rows.iter()
        .map(|r| {
            exprs
                .iter()
                .enumerate()
                .map(|(n, (_, b))| read_back(r, n, *b))
                .collect()
        })
        .collect()
}

/// How one table's rows come back.
struct BackTable {
    spec: TableSpec,
    /// Back expressions of every column over alias `t`, and of the key over alias `k`.
    row_exprs: Vec<(String, Back)>,
    key_exprs: Vec<(String, Back)>,
    /// `(j->>i)::type AS "col"` for each key column.
    key_casts: Vec<String>,
    delete: String,
    insert: String,
}

/// One table's part of a batch: its index, the touched keys and the current rows, as SQLite
/// values.
type TableRows = (usize, Vec<Vec<Value>>, Vec<Vec<Value>>);

/// The reverse applier of one process.
pub struct Reverse {
    client: Client,
    sqlite: rusqlite::Connection,
    schema_name: String,
    tables: Vec<BackTable>,
    by_target: HashMap<String, usize>,
}

/// What one reverse batch did.
#[derive(Debug, Clone, Default)]
pub struct ReverseBatch {
    /// Changes consumed.
    pub changes: usize,
    /// Rows written into SQLite.
    pub rows_written: u64,
    /// Touched keys whose row no longer exists in PostgreSQL.
    pub rows_deleted: u64,
}

impl Applied for ReverseBatch {
    fn changes(&self) -> usize {
        self.changes
    }
}

impl Applier for Reverse {
    type Batch = ReverseBatch;
    const FOLLOWS: Side = Side::Postgresql;

    fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn step_in_txn(&mut self, limit: usize) -> Result<Option<ReverseBatch>> {
        self.apply_batch(limit)
    }
}

impl Reverse {
    /// Prepares a reverse applier over `specs` (from [`super::spec::specs`]), writing into
    /// `sqlite` (a read-write connection to the application's file).
    pub fn new(
        client: Client,
        sqlite: rusqlite::Connection,
        schema_name: &str,
        specs: Vec<TableSpec>,
        forms: &HashMap<(String, String), SourceForm>,
    ) -> Result<Reverse> {
        client.batch_execute(
            "setting the reverse applier's session",
            "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; \
             SET lite2pg.applying = 'on'",
        )?;
        // PostgreSQL checked every foreign key when these rows were written there. In SQLite
        // a batch replaces rows (DELETE then INSERT OR REPLACE): with its foreign keys on,
        // replacing a parent would fire ON DELETE CASCADE / SET NULL on children that never
        // changed, and an immediate key would refuse the batch's intermediate states. They
        // are off on this connection only (as session_replication_role is forward); the
        // application's own connections keep theirs.
        sqlite
            .execute_batch("PRAGMA foreign_keys = OFF")
            .map_err(|e| {
                crate::sqlite::open::classify_in(
                    std::path::Path::new(sqlite.path().unwrap_or("the SQLite database")),
                    "turning foreign keys off for the reverse applier",
                    &e,
                )
            })?;
        let mut tables = Vec::new();
        for spec in specs {
            let row_exprs: Vec<(String, Back)> = spec
                .columns
                .iter()
                .map(|c| {
                    let form = forms.get(&(spec.target.clone(), c.target.clone())).copied();
                    back_expr(
                        &format!("t.{}", quote_ident(&c.target)),
                        c.codec.ty,
                        c.codec.conversion,
                        form,
                    )
                })
                .collect();
            let key_exprs: Vec<(String, Back)> = spec
                .pg_key
                .iter()
                .zip(&spec.key_codecs)
                .map(|(k, codec)| {
                    let form = forms.get(&(spec.target.clone(), k.clone())).copied();
                    back_expr(
                        &format!("k.{}", quote_ident(k)),
                        codec.ty,
                        codec.conversion,
                        form,
                    )
                })
                .collect();
            // Cast to the type as the catalog names it (an enum's own name among them).
            let key_casts = spec
                .pg_key
                .iter()
                .zip(&spec.pg_key_types)
                .enumerate()
                .map(|(i, (k, ty))| format!("(j ->> {i})::{ty} AS {}", quote_ident(k)))
                .collect();
            let delete = format!(
                "DELETE FROM {} WHERE {}",
                quote_ident(&spec.source),
                spec.sqlite_where
            );
            let rowid = spec.rowid_name().to_string();
            let cols: Vec<String> = spec
                .columns
                .iter()
                .map(|c| match &c.source {
                    Some(s) => quote_ident(s),
                    None => rowid.clone(),
                })
                .collect();
            let insert = format!(
                "INSERT OR REPLACE INTO {} ({}) VALUES ({})",
                quote_ident(&spec.source),
                cols.join(", "),
                (1..=cols.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            tables.push(BackTable {
                spec,
                row_exprs,
                key_exprs,
                key_casts,
                delete,
                insert,
            });
        }
        let by_target = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.spec.target.clone(), i))
            .collect();
        Ok(Reverse {
            client,
            sqlite,
            schema_name: schema_name.to_string(),
            tables,
            by_target,
        })
    }

    fn apply_batch(&mut self, limit: usize) -> Result<Option<ReverseBatch>> {
        let rows = self.client.query(
            "reading the sync state",
            "SELECT primary_side FROM lite2pg.sync_state WHERE target_schema = $1 FOR UPDATE",
            &[&self.schema_name],
        )?;
        let primary = rows.first().map(|r| Side::parse(r.get(0))).transpose()?;
        if primary != Some(Side::Postgresql) {
            return Ok(None);
        }
        let limit = limit as i64;
        let changes = self.client.query(
            "reading PostgreSQL's change log",
            "SELECT seq, tbl, old_key, new_key FROM lite2pg.pg_changes WHERE target_schema = $1 \
             ORDER BY seq LIMIT $2",
            &[&self.schema_name, &limit],
        )?;
        let mut batch = ReverseBatch {
            changes: changes.len(),
            ..ReverseBatch::default()
        };
        if changes.is_empty() {
            return Ok(Some(batch));
        }
        let mut seqs: Vec<i64> = Vec::new();
        let mut keys: Vec<(Vec<Json>, HashSet<String>)> =
            (0..self.tables.len()).map(|_| Default::default()).collect();
        for c in &changes {
            seqs.push(c.get(0));
            let tbl: String = c.get(1);
            let Some(&i) = self.by_target.get(&tbl) else {
                continue;
            };
            for k in [c.get::<_, Option<Vec<Option<String>>>>(2), c.get(3)]
                .into_iter()
                .flatten()
            {
                let j = Json::Array(
                    k.into_iter()
                        .map(|v| v.map_or(Json::Null, Json::String))
                        .collect(),
                );
                if keys[i].1.insert(j.to_string()) {
                    keys[i].0.push(j);
                }
            }
        }
        // Read everything from PostgreSQL first, then write SQLite in one transaction.
        let mut work: Vec<TableRows> = Vec::new();
        for (i, (list, _)) in keys.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let t = &self.tables[i];
            let json = Json::Array(list);
            let casts = t.key_casts.join(", ");
            let key_sql = format!(
                "SELECT {} FROM (SELECT {casts} FROM jsonb_array_elements($1::jsonb) j) k",
                t.key_exprs
                    .iter()
                    .map(|(e, _)| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if t.spec.int_key() {
                self.client.query(
                    "remembering the changed keys for the next verification",
                    "INSERT INTO lite2pg.sync_touched_keys (target_schema, target_name, key) \
                     SELECT DISTINCT $1::text, $2::text, (j ->> 0)::int8 \
                     FROM jsonb_array_elements($3::jsonb) j ON CONFLICT DO NOTHING",
                    &[&self.schema_name, &t.spec.target, &json],
                )?;
            }
            let context = format!("reading changed keys of {}", quote_ident(&t.spec.target));
            let key_rows = self.client.query(&context, &key_sql, &[&json])?;
            let key_values = read_rows(&key_rows, &t.key_exprs);
            let join = t.spec.key_join("k");
            let row_sql = format!(
                "SELECT {} FROM {} t JOIN (SELECT DISTINCT {casts} FROM jsonb_array_elements($1::jsonb) j) k ON {join}",
                t.row_exprs
                    .iter()
                    .map(|(e, _)| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                t.spec.qualified(),
            );
            let context = format!("reading changed rows of {}", quote_ident(&t.spec.target));
            let rows = self.client.query(&context, &row_sql, &[&json])?;
            let row_values = read_rows(&rows, &t.row_exprs);
            batch.rows_deleted += key_values.len().saturating_sub(row_values.len()) as u64;
            batch.rows_written += row_values.len() as u64;
            work.push((i, key_values, row_values));
        }
        let touched: Vec<String> = work
            .iter()
            .map(|(i, _, _)| self.tables[*i].spec.target.clone())
            .collect();
        self.write_sqlite(&work)?;
        crate::failpoint::hit("reverse.between_commits");
        let written = batch.rows_written as i64;
        self.client.query(
            "consuming the applied changes",
            "DELETE FROM lite2pg.pg_changes WHERE seq = ANY($1)",
            &[&seqs],
        )?;
        self.client.query(
            "recording the reverse apply",
            "UPDATE lite2pg.sync_state SET reverse_rows = reverse_rows + $2, applied_at = now(), \
             touched = ARRAY(SELECT DISTINCT x FROM unnest(touched || $3::text[]) x ORDER BY x), \
             last_error = NULL, error_at = NULL, updated_at = now() WHERE target_schema = $1",
            &[&self.schema_name, &written, &touched],
        )?;
        Ok(Some(batch))
    }

    fn write_sqlite(&mut self, work: &[TableRows]) -> Result<()> {
        let path = std::path::PathBuf::from(self.sqlite.path().unwrap_or("the SQLite database"));
        let fail = |e: rusqlite::Error| {
            crate::sqlite::open::classify_in(&path, "writing PostgreSQL's changes into SQLite", &e)
        };
        let tx = self
            .sqlite
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(fail)?;
        cap::set_applying(&tx, true).map_err(fail)?;
        for (i, keys, rows) in work {
            let t = &self.tables[*i];
            {
                let mut del = tx.prepare_cached(&t.delete).map_err(fail)?;
                for k in keys {
                    del.execute(rusqlite::params_from_iter(k.iter()))
                        .map_err(fail)?;
                }
                let mut ins = tx.prepare_cached(&t.insert).map_err(fail)?;
                for r in rows {
                    ins.execute(rusqlite::params_from_iter(r.iter()))
                        .map_err(|e| {
                            Error::Refused(format!(
                                "writing a row of {} into SQLite: {e}",
                                quote_ident(&t.spec.source)
                            ))
                        })?;
                }
            }
        }
        cap::set_applying(&tx, false).map_err(fail)?;
        tx.commit().map_err(fail)
    }
}
