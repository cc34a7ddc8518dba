//! The reader: one SQLite read transaction, tables in key order, rows encoded into chunks.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::types::{Value, ValueRef};
use tokio::sync::mpsc::Sender;

use super::encode::{self, begin_tuple};
use super::keys::{self, Key, ORD_STEP};
use super::{Chunk, Progress, Reject, RowKeys, RowTap, TableJob, CHUNK_BYTES};
use crate::error::{Error, Result};
use crate::pg::quote_ident;
use crate::plan::Conversion;
use crate::sqlite::open::classify;

/// The reader's fixed part: where it reads, what it reports to, when it stops.
pub struct Reading<'a> {
    /// The reader's connection.
    pub conn: &'a rusqlite::Connection,
    /// The source, named in messages.
    pub path: &'a Path,
    /// Rows read, chunks sent.
    pub progress: &'a Progress,
    /// Set when the sink failed.
    pub stop: &'a AtomicBool,
    /// Rows per chunk at most.
    pub chunk_rows: u64,
}

impl Reading<'_> {
    /// Reads every gap of every job and sends its chunks, showing each row to `tap` for the
    /// tables read whole; stops early when `stop` is set or the sink hangs up.
    pub fn all(
        &self,
        jobs: &[TableJob],
        tx: Sender<Chunk>,
        mut tap: Option<&mut (dyn RowTap + 'static)>,
    ) -> Result<()> {
        // One read transaction for the whole copy: every table comes from the same snapshot.
        self.conn
            .execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
            .map_err(|e| classify(self.path, &e))?;
        for (i, job) in jobs.iter().enumerate() {
            // A tap sees whole tables only: a resumed table's rows are partly elsewhere.
            let whole = job.read_whole();
            for gap in &job.gaps {
                if self.stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let tap = if whole { tap.as_deref_mut() } else { None };
                let sent = self.gap(i, job, gap, &tx, tap).map_err(|e| {
                    Error::source(
                        self.path,
                        format!("reading table {}: {e}", quote_ident(&job.source)),
                    )
                })?;
                if !sent {
                    return Ok(());
                }
            }
            self.progress.read_done(i);
        }
        Ok(())
    }
}

/// The name that reaches the rowid of `job`'s table, avoiding columns that shadow it.
fn rowid_name(job: &TableJob) -> Option<&'static str> {
    crate::model::rowid_name(job.columns.iter().filter_map(|c| c.source.as_deref()))
}

fn select_sql(job: &TableJob, gap: &keys::Gap) -> std::result::Result<String, String> {
    let key: Vec<String> = if job.key_columns.is_empty() {
        vec![rowid_name(job)
            .ok_or("every name of the rowid is taken by a column")?
            .to_string()]
    } else {
        job.key_columns.iter().map(|c| quote_ident(c)).collect()
    };
    let tuple = format!("({})", key.join(", "));
    let params = |from: usize| -> String {
        let p: Vec<String> = (0..key.len()).map(|i| format!("?{}", from + i)).collect();
        format!("({})", p.join(", "))
    };
    let mut conds = Vec::new();
    let mut next = 1;
    if gap.lo.is_some() {
        conds.push(format!("{tuple} > {}", params(next)));
        next += key.len();
    }
    if gap.hi.is_some() {
        conds.push(format!("{tuple} <= {}", params(next)));
    }
    let cols: Vec<String> = job
        .columns
        .iter()
        .filter_map(|c| c.source.as_deref())
        .map(quote_ident)
        .collect();
    let mut sql = format!("SELECT {}", key.join(", "));
    for c in &cols {
        sql.push_str(", ");
        sql.push_str(c);
    }
    sql.push_str(&format!(" FROM {}", quote_ident(&job.source)));
    if !conds.is_empty() {
        sql.push_str(&format!(" WHERE {}", conds.join(" AND ")));
    }
    sql.push_str(&format!(" ORDER BY {}", key.join(", ")));
    Ok(sql)
}

/// The kind and original bytes of a refused value, for the reject file.
fn value_kind(v: &ValueRef<'_>) -> (&'static str, Option<Vec<u8>>) {
    let bytes = match v {
        ValueRef::Null => None,
        ValueRef::Integer(_) | ValueRef::Real(_) => encode::number_text(v).map(String::into_bytes),
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(b.to_vec()),
    };
    (encode::kind(v), bytes)
}

struct Builder {
    chunk: Chunk,
}

impl Builder {
    fn new(table: usize, ord: i64, lo: Option<Key>, rowids: bool) -> Builder {
        Builder {
            chunk: Chunk {
                table,
                ord,
                lo,
                hi: None,
                data: Vec::with_capacity(CHUNK_BYTES + (CHUNK_BYTES >> 3)),
                row_ends: Vec::new(),
                row_keys: if rowids {
                    RowKeys::Rowids(Vec::new())
                } else {
                    RowKeys::Keys(Vec::new())
                },
                read: 0,
                rejects: Vec::new(),
            },
        }
    }
}

impl Reading<'_> {
    /// Reads one gap; returns false when the sink has gone away.
    fn gap(
        &self,
        table: usize,
        job: &TableJob,
        gap: &keys::Gap,
        tx: &Sender<Chunk>,
        mut tap: Option<&mut (dyn RowTap + 'static)>,
    ) -> std::result::Result<bool, String> {
        let (progress, chunk_rows) = (self.progress, self.chunk_rows);
        let sql = select_sql(job, gap)?;
        let mut stmt = self.conn.prepare(&sql).map_err(|e| e.to_string())?;
        let mut params: Vec<Value> = Vec::new();
        params.extend(gap.lo.iter().flatten().cloned());
        params.extend(gap.hi.iter().flatten().cloned());
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| e.to_string())?;
        let rowids = job.key_columns.is_empty();
        let nkey = if rowids { 1 } else { job.key_columns.len() };
        let step = if gap.before_ord == i64::MAX {
            ORD_STEP
        } else {
            1
        };
        let mut ord = gap.after_ord + step;
        let mut b = Builder::new(table, ord, gap.lo.clone(), rowids);
        let fields = job.columns.len() as u16;
        // Position of each copied column in the SELECT list.
        let positions: Vec<usize> = job
            .read_positions()
            .into_iter()
            .map(|p| p.unwrap_or(0))
            .collect();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            if let Some(t) = tap.as_deref_mut() {
                t.row(table, row);
            }
            let start = b.chunk.data.len();
            begin_tuple(&mut b.chunk.data, fields);
            let mut refused = None;
            let mut cleaned = Vec::new();
            for (c, &pos) in job.columns.iter().zip(&positions) {
                let v = row.get_ref(pos).map_err(|e| e.to_string())?;
                if let Err(why) = encode::encode(v, c.codec, &mut b.chunk.data) {
                    let (kind, value) = value_kind(&v);
                    refused = Some((c.target.clone(), why, kind, value));
                    break;
                }
                if let (Conversion::CleanText, ValueRef::Text(t)) = (c.codec.conversion, v) {
                    if encode::cleaned(t).is_some() {
                        cleaned.push((c.target.clone(), t.to_vec()));
                    }
                }
            }
            // Rowid tables keep a bare integer per row; an owned key is built only for a
            // reject or a chunk boundary, not for every row.
            let rowid = if rowids {
                match row.get_ref(0).map_err(|e| e.to_string())? {
                    ValueRef::Integer(i) => Some(i),
                    _ => return Err("rowid is not an integer".into()),
                }
            } else {
                None
            };
            let owned_key = || -> std::result::Result<Key, String> {
                match rowid {
                    Some(i) => Ok(vec![Value::Integer(i)]),
                    None => (0..nkey)
                        .map(|i| row.get_ref(i).map(keys::owned))
                        .collect::<rusqlite::Result<_>>()
                        .map_err(|e| e.to_string()),
                }
            };
            b.chunk.read += 1;
            match refused {
                Some((column, reason, value_kind, value)) => {
                    b.chunk.data.truncate(start);
                    b.chunk.rejects.push(Reject {
                        key: keys::display(&job.key_names, &owned_key()?),
                        column: Some(column),
                        reason,
                        value,
                        value_kind,
                        carried: false,
                    });
                }
                None => {
                    for (column, value) in cleaned {
                        b.chunk.rejects.push(Reject {
                            key: keys::display(&job.key_names, &owned_key()?),
                            column: Some(column),
                            reason: "carried cleaned (--invalid-text clean): NUL bytes removed, \
                                 invalid UTF-8 replaced by U+FFFD"
                                .into(),
                            value: Some(value),
                            value_kind: "text",
                            carried: true,
                        });
                    }
                    b.chunk.row_ends.push(b.chunk.data.len() as u32);
                    match (&mut b.chunk.row_keys, rowid) {
                        (RowKeys::Rowids(v), Some(i)) => v.push(i),
                        (RowKeys::Keys(v), _) => v.push(owned_key()?),
                        (RowKeys::Rowids(_), None) => return Err("rowid is not an integer".into()),
                    }
                }
            }
            if b.chunk.data.len() >= CHUNK_BYTES || b.chunk.read >= chunk_rows {
                let key = owned_key()?;
                b.chunk.hi = Some(key.clone());
                progress.read(table, b.chunk.read);
                progress.chunk_sent(table);
                if tx.blocking_send(b.chunk).is_err() {
                    return Ok(false);
                }
                ord += step;
                b = Builder::new(table, ord, Some(key), rowids);
            }
        }
        // The last chunk of a gap ends where the gap ends, so chunks keep partitioning the keys.
        b.chunk.hi = gap.hi.clone();
        progress.read(table, b.chunk.read);
        progress.chunk_sent(table);
        Ok(tx.blocking_send(b.chunk).is_ok())
    }
}
