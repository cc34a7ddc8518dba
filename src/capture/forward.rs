//! The forward applier: SQLite's change log → PostgreSQL, one transaction per batch.
//!
//! ```text
//! PG:     BEGIN; lock lite2pg.sync_state row; read applied_seq
//! SQLite: one read transaction: the changes after applied_seq (keys only), the schema
//!         digest, and the current row for every key they touch
//! PG:     COPY touched keys and current rows into temp tables;
//!         DELETE the touched keys; DELETE rows that conflict with a new row on any other
//!         unique index (INSERT OR REPLACE removed them in SQLite without a trigger firing);
//!         INSERT the current rows; record rejects; applied_seq = last change; COMMIT
//! ```
//!
//! A batch applies the *current* state of every key it touches, so applying it twice, or
//! after a crash between the two databases, gives the same result: the applier is idempotent
//! and needs no ordering inside a batch. Foreign keys are not checked while it applies
//! (`session_replication_role = replica` when the role may, else every constraint deferred
//! to the commit, which is why the translator makes foreign keys `DEFERRABLE`), because
//! SQLite enforced them, or did not, when the application wrote.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use rusqlite::types::Value;
use serde_json::Value as Json;

use super::applier::{Applied, Applier};
use super::spec::{unique_indexes, TableSpec};
use super::sqlite_log::{self as cap, schema_digest, Change};
use super::Side;
use crate::copy::copy_in::CopyFailure;
use crate::copy::encode::{self, begin_tuple};
use crate::copy::{self, keys};
use crate::error::{Error, Result};
use crate::pg::{quote_ident, Client};

/// What one batch did.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Changes consumed.
    pub changes: usize,
    /// Position of the last one (unchanged when none).
    pub last_seq: i64,
    /// Rows written (current state of touched keys that still exist).
    pub rows_written: u64,
    /// Touched keys whose row no longer exists in SQLite (deleted in PostgreSQL).
    pub rows_deleted: u64,
    /// Rows whose current values could not be carried.
    pub rejected: u64,
    /// When the newest consumed change was made (julian day).
    pub newest_at: Option<f64>,
    /// When each consumed change was made (julian day), for lag statistics.
    pub made_at: Vec<f64>,
}

impl Applied for Batch {
    fn changes(&self) -> usize {
        self.changes
    }
}

impl Applier for Forward {
    type Batch = Batch;
    const FOLLOWS: Side = Side::Sqlite;

    fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn step_in_txn(&mut self, limit: usize) -> Result<Option<Batch>> {
        let out = self.apply_batch(limit)?;
        if out.is_some() {
            crate::failpoint::hit("sync.before_commit");
        }
        Ok(out)
    }
}

/// The applier of one sync process: a PostgreSQL session with its temp tables, and a
/// read-only SQLite connection.
pub struct Forward {
    client: Client,
    sqlite: rusqlite::Connection,
    schema_name: String,
    specs: Vec<TableSpec>,
    by_source: HashMap<String, usize>,
    digest: String,
    replica: bool,
}

/// The batch's work for one table.
#[derive(Default)]
struct TableWork {
    /// Touched keys, as logged; deduplicated by their logged text.
    keys: Vec<Vec<Value>>,
    seen: HashSet<String>,
}

impl Forward {
    /// Prepares `client` (temp tables, unique indexes, FK handling) to apply `specs`.
    /// `digest` is the schema digest recorded when capture was armed.
    pub fn new(
        client: Client,
        sqlite: rusqlite::Connection,
        schema_name: &str,
        mut specs: Vec<TableSpec>,
        digest: String,
    ) -> Result<Forward> {
        // Loop prevention on the PostgreSQL side, and no FK checks: SQLite already decided.
        let replica = client
            .batch_execute(
                "setting session_replication_role",
                "SET session_replication_role = replica",
            )
            .is_ok();
        // The temp tables carry no statistics, and a batch is small against the tables it
        // changes: joining them by index lookups is right, a hash join scanning a whole
        // table per batch (what the planner picks without statistics) is not.
        client.batch_execute(
            "marking the applier's session",
            "SET lite2pg.applying = 'on'; SET enable_hashjoin = off; SET enable_mergejoin = off",
        )?;
        for s in &mut specs {
            let cols = |list: &[String]| {
                list.iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let targets: Vec<String> = s.columns.iter().map(|c| c.target.clone()).collect();
            client.batch_execute(
                &format!("preparing the applier's staging tables for {}", s.qualified),
                &format!(
                    "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA;\n\
                     CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA",
                    s.stage,
                    cols(&targets),
                    s.qualified,
                    s.keys_table,
                    cols(&s.pg_key),
                    s.qualified
                ),
            )?;
            s.unique = unique_indexes(&client, s)?;
        }
        let by_source = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.source.clone(), i))
            .collect();
        Ok(Forward {
            client,
            sqlite,
            schema_name: schema_name.to_string(),
            specs,
            by_source,
            digest,
            replica,
        })
    }

    /// Whether foreign keys are off while applying (`session_replication_role = replica`),
    /// rather than deferred to each batch's commit.
    pub fn replica(&self) -> bool {
        self.replica
    }

    fn apply_batch(&mut self, limit: usize) -> Result<Option<Batch>> {
        if !self.replica {
            self.client
                .batch_execute("deferring foreign keys", "SET CONSTRAINTS ALL DEFERRED")?;
        }
        let rows = self.client.query(
            "reading the applied position",
            "SELECT applied_seq, primary_side FROM lite2pg.sync_state WHERE target_schema = $1 \
             FOR UPDATE",
            &[&self.schema_name],
        )?;
        let row = rows.first().ok_or_else(|| {
            Error::Refused(format!(
                "no sync state for schema {}: was `lite2pg finish` run?",
                quote_ident(&self.schema_name)
            ))
        })?;
        let applied: i64 = row.get(0);
        if Side::parse(row.get(1))? != Side::Sqlite {
            return Ok(None);
        }
        let read = self.read_batch(applied, limit)?;
        let Some((changes, work, staged)) = read else {
            return Ok(Some(Batch {
                last_seq: applied,
                ..Batch::default()
            }));
        };
        let mut batch = Batch {
            changes: changes.len(),
            last_seq: changes.last().map(|c| c.seq).unwrap_or(applied),
            newest_at: changes.iter().map(|c| c.at).reduce(f64::max),
            made_at: changes.iter().map(|c| c.at).collect(),
            ..Batch::default()
        };
        for (i, w) in work.iter().enumerate() {
            let Some(w) = w else { continue };
            let st = &staged[i];
            self.apply_table(i, w, st, &mut batch)?;
        }
        let at = batch.newest_at.map(julian_to_unix);
        let written = batch.rows_written as i64;
        let touched: Vec<String> = work
            .iter()
            .enumerate()
            .filter(|(_, w)| w.is_some())
            .map(|(i, _)| self.specs[i].target.clone())
            .collect();
        self.client.query(
            "recording the applied position",
            "UPDATE lite2pg.sync_state SET applied_seq = $2, applied_rows = applied_rows + $3, \
             applied_change_at = coalesce(to_timestamp($4), applied_change_at), \
             touched = ARRAY(SELECT DISTINCT x FROM unnest(touched || $5::text[]) x ORDER BY x), \
             applied_at = now(), last_error = NULL, error_at = NULL, updated_at = now() \
             WHERE target_schema = $1",
            &[&self.schema_name, &batch.last_seq, &written, &at, &touched],
        )?;
        Ok(Some(batch))
    }

    /// Reads the changes after `applied` and the current rows they touch, in one SQLite read
    /// transaction. `None`: nothing to apply.
    #[allow(clippy::type_complexity)]
    fn read_batch(
        &self,
        applied: i64,
        limit: usize,
    ) -> Result<Option<(Vec<Change>, Vec<Option<TableWork>>, Vec<Staged>)>> {
        let conn = &self.sqlite;
        let fail = |what: &str, e: String| {
            Error::Refused(format!("reading SQLite's change log ({what}): {e}"))
        };
        let sqlite_fail = |what: &str, e: rusqlite::Error| {
            crate::sqlite::open::classify_conn(
                conn,
                &format!("reading the change log ({what})"),
                &e,
            )
        };
        conn.execute_batch("BEGIN")
            .map_err(|e| sqlite_fail("begin", e))?;
        let result = (|| {
            let digest =
                schema_digest(conn, &self.specs_sources()).map_err(|e| sqlite_fail("schema", e))?;
            if digest != self.digest {
                return Err(Error::Refused(
                    "the SQLite schema of the synced tables changed since capture was armed \
                     (a column, table or constraint was added, dropped or altered): sync stops \
                     rather than apply rows to a schema they no longer fit. Migrate again under \
                     capture with `lite2pg sync --replace`"
                        .into(),
                ));
            }
            let changes =
                cap::read_changes(conn, applied, limit).map_err(|e| fail("changes", e))?;
            if changes.first().is_none_or(|c| c.seq > applied + 1) {
                if let Some((from, to)) =
                    cap::lost_after(conn, applied).map_err(|e| sqlite_fail("positions", e))?
                {
                    return Err(Error::Refused(format!(
                        "SQLite's change log no longer holds changes {from} to {to}, which \
                         PostgreSQL has not applied (its recorded position is {applied}): the \
                         server now primary is older than what sync applied, by more than \
                         --log-retention kept (a standby that lagged, a restored backup). The \
                         rows those changes touched cannot be followed: migrate again under \
                         capture with `lite2pg sync --replace`"
                    )));
                }
            }
            if changes.is_empty() {
                return Ok(None);
            }
            let mut work: Vec<Option<TableWork>> = (0..self.specs.len()).map(|_| None).collect();
            for c in &changes {
                // Tables the plan left out (virtual, excluded) are logged and skipped.
                let Some(&i) = self.by_source.get(&c.table) else {
                    continue;
                };
                let w = work[i].get_or_insert_with(TableWork::default);
                for k in [&c.old_key, &c.new_key].into_iter().flatten() {
                    let spec = &self.specs[i];
                    let key: Option<Vec<Value>> =
                        spec.key_pos.iter().map(|&p| k.get(p).cloned()).collect();
                    let Some(key) = key else {
                        return Err(fail(
                            "key",
                            format!("change {} of {} has too few key values", c.seq, c.table),
                        ));
                    };
                    if w.seen.insert(format!("{key:?}")) {
                        w.keys.push(key);
                    }
                }
            }
            let mut staged = Vec::new();
            for (i, w) in work.iter().enumerate() {
                staged.push(match w {
                    Some(w) => self.stage_rows(i, w)?,
                    None => Staged::default(),
                });
            }
            Ok(Some((changes, work, staged)))
        })();
        let _ = conn.execute_batch("COMMIT");
        result
    }

    fn specs_sources(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.source.clone()).collect()
    }

    /// Encodes the touched keys and the current rows of table `i`.
    fn stage_rows(&self, i: usize, w: &TableWork) -> Result<Staged> {
        let spec = &self.specs[i];
        let mut st = Staged::default();
        let mut stmt = self
            .sqlite
            .prepare_cached(&spec.select)
            .map_err(|e| read_error(&self.sqlite, &spec.source, &e))?;
        for key in &w.keys {
            // A key PostgreSQL cannot hold cannot be there to delete.
            let at = st.keys.len();
            begin_tuple(&mut st.keys, spec.key_codecs.len() as u16);
            let mut key_ok = true;
            for (v, codec) in key.iter().zip(&spec.key_codecs) {
                if encode::encode(v.into(), *codec, &mut st.keys).is_err() {
                    key_ok = false;
                    break;
                }
            }
            if key_ok {
                st.key_rows += 1;
            } else {
                st.keys.truncate(at);
            }
            st.key_json.push(keys::display(&spec.sqlite_key, key));
            let mut rows = stmt
                .query(rusqlite::params_from_iter(key.iter()))
                .map_err(|e| read_error(&self.sqlite, &spec.source, &e))?;
            // A key stands for one row, or, in a multiset, for every row equal to it.
            let mut found = 0;
            while let Some(row) = rows
                .next()
                .map_err(|e| read_error(&self.sqlite, &spec.source, &e))?
            {
                found += 1;
                self.stage_row(spec, key, row, &mut st)?;
                if !spec.multiset {
                    break;
                }
            }
            if found == 0 {
                st.gone += 1;
            }
        }
        Ok(st)
    }

    /// Encodes one current row of `key` into `st`, or records why it cannot be carried.
    fn stage_row(
        &self,
        spec: &TableSpec,
        key: &keys::Key,
        row: &rusqlite::Row<'_>,
        st: &mut Staged,
    ) -> Result<()> {
        let at = st.rows.len();
        begin_tuple(&mut st.rows, spec.columns.len() as u16);
        let mut refused = None;
        for (n, c) in spec.columns.iter().enumerate() {
            let v = row
                .get_ref(n)
                .map_err(|e| read_error(&self.sqlite, &spec.source, &e))?;
            if let Err(why) = encode::encode(v, c.codec, &mut st.rows) {
                refused = Some((c.target.clone(), why));
                break;
            }
        }
        match refused {
            None => st.row_count += 1,
            Some((column, reason)) => {
                st.rows.truncate(at);
                st.rejects
                    .push((keys::display(&spec.sqlite_key, key), column, reason));
            }
        }
        Ok(())
    }

    fn apply_table(
        &mut self,
        i: usize,
        _w: &TableWork,
        st: &Staged,
        batch: &mut Batch,
    ) -> Result<()> {
        let spec = self.specs[i].clone();
        let ctx = |what: &str| format!("applying changes to {} ({what})", spec.qualified);
        let pk_cols = |alias: &str| spec.key_join(alias);
        if st.key_rows > 0 {
            copy_in(
                &mut self.client,
                &ctx("keys"),
                &spec.keys_table,
                &spec.pg_key,
                &st.keys,
                st.key_rows,
            )?;
            if spec.int_key() {
                self.client.query(
                    &ctx("remembering the changed keys for the next verification"),
                    &format!(
                        "INSERT INTO lite2pg.sync_touched_keys (target_schema, target_name, key) \
                         SELECT DISTINCT $1::text, $2::text, {}::int8 FROM {} ON CONFLICT DO NOTHING",
                        quote_ident(&spec.pg_key[0]),
                        spec.keys_table
                    ),
                    &[&self.schema_name, &spec.target],
                )?;
            }
            self.client.batch_execute(
                &ctx("deleting the changed rows"),
                &format!(
                    "DELETE FROM {} t USING {} k WHERE {}",
                    spec.qualified,
                    spec.keys_table,
                    pk_cols("k")
                ),
            )?;
        }
        if st.row_count > 0 {
            let targets: Vec<String> = spec.columns.iter().map(|c| c.target.clone()).collect();
            copy_in(
                &mut self.client,
                &ctx("rows"),
                &spec.stage,
                &targets,
                &st.rows,
                st.row_count,
            )?;
            let cols = targets
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let insert = format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
                spec.qualified, spec.stage
            );
            // INSERT OR REPLACE removed rows in SQLite that conflicted with the new one on
            // another unique key, without a trigger. Such a row still in PostgreSQL makes the
            // insert fail on that unique index: then (only then, it is rare, and the checks
            // cost) remove every row a new one conflicts with, and insert again. Any removed
            // row still alive in SQLite has a later change of its own, which brings it back.
            let conflict = if spec.unique.is_empty() {
                self.client
                    .batch_execute(&ctx("writing the current rows"), &insert)?;
                false
            } else {
                let sql = format!("SAVEPOINT lite2pg_rows; {insert}; RELEASE lite2pg_rows");
                let target = self.client.target().to_string();
                let outcome = self
                    .client
                    .with(|c| async move { c.batch_execute(sql.as_str()).await });
                match outcome {
                    Ok(()) => false,
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        true
                    }
                    Err(e) => {
                        return Err(crate::pg::classify(
                            &target,
                            &ctx("writing the current rows"),
                            &e,
                        ))
                    }
                }
            };
            if conflict {
                self.client.batch_execute(
                    &ctx("writing the current rows"),
                    "ROLLBACK TO SAVEPOINT lite2pg_rows",
                )?;
                for (exprs, pred) in &spec.unique {
                    let pred = pred
                        .as_deref()
                        .map(|p| format!("({p}) AND "))
                        .unwrap_or_default();
                    self.client.batch_execute(
                        &ctx("removing rows a replaced row conflicts with"),
                        &format!(
                            "DELETE FROM {} WHERE {pred}({exprs}) IN (SELECT {exprs} FROM {} WHERE {pred}TRUE)",
                            spec.qualified, spec.stage
                        ),
                    )?;
                }
                self.client
                    .batch_execute(&ctx("writing the current rows"), &insert)?;
            }
        }
        // Rejects: forget the touched keys' old ones, record the new.
        let touched: Vec<Json> = st.key_json.clone();
        let touched = Json::Array(touched);
        self.client.query(
            &ctx("clearing carried rows from the sync rejects"),
            "DELETE FROM lite2pg.sync_rejects WHERE target_schema = $1 AND target_name = $2 \
             AND key IN (SELECT jsonb_array_elements($3::jsonb))",
            &[&self.schema_name, &spec.target, &touched],
        )?;
        for (key, column, reason) in &st.rejects {
            self.client.query(
                &ctx("recording a row it cannot carry"),
                "INSERT INTO lite2pg.sync_rejects (target_schema, target_name, key, column_name, \
                 reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_schema, target_name, key) \
                 DO UPDATE SET column_name = EXCLUDED.column_name, reason = EXCLUDED.reason, \
                 at = now()",
                &[&self.schema_name, &spec.target, key, column, reason],
            )?;
        }
        batch.rows_written += st.row_count;
        batch.rows_deleted += st.gone;
        batch.rejected += st.rejects.len() as u64;
        Ok(())
    }
}

/// One table's encoded batch.
#[derive(Default)]
struct Staged {
    keys: Vec<u8>,
    key_rows: u64,
    key_json: Vec<Json>,
    rows: Vec<u8>,
    row_count: u64,
    gone: u64,
    rejects: Vec<(Json, String, String)>,
}

/// Copies `rows` encoded tuples into `table` through the copier's one COPY function.
fn copy_in(
    client: &mut Client,
    context: &str,
    table: &str,
    columns: &[String],
    tuples: &[u8],
    rows: u64,
) -> Result<()> {
    let sql = copy::copy_in::statement(table, columns);
    let data = Bytes::copy_from_slice(tuples);
    let target = client.target().to_string();
    client
        .with(|c| async move { copy::copy_in::send(c, &sql, data, rows).await })
        .map(|_| ())
        .map_err(|e| match e {
            CopyFailure::Pg(e) => crate::pg::classify(&target, context, &e),
            count => Error::Postgres {
                context: context.to_string(),
                message: count.describe(),
                sqlstate: None,
            },
        })
}

/// Seconds since the unix epoch of a julian day.
pub fn julian_to_unix(jd: f64) -> f64 {
    (jd - 2_440_587.5) * 86_400.0
}

/// A SQLite error met while reading `table`'s current rows, through the one classifier.
fn read_error(conn: &rusqlite::Connection, table: &str, e: &rusqlite::Error) -> Error {
    crate::sqlite::open::classify_conn(
        conn,
        &format!("reading table {} for sync", quote_ident(table)),
        e,
    )
}
