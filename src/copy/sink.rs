//! The sink: N PostgreSQL connections, each committing whole chunks with their progress row.
//!
//! Contract: a chunk's rows, its `lite2pg.chunks` row and its rejects commit in one
//! transaction or not at all, so after any crash the control schema says exactly which key
//! ranges are in the target.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc::Receiver;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::copy_in::{self, CopyFailure};
use super::keys::{self, Key};
use super::{Chunk, Progress, Reject, RowKeys, TableJob};
use crate::error::sqlstate;
use crate::error::{Error, Result};
use crate::pg::{classify, connect_async, describe, quote_ident, Target};

/// Runs `workers` COPY streams until the channel is drained; the first error stops all.
pub fn run(
    target: &Target,
    jobs: Arc<Vec<TableJob>>,
    rx: Receiver<Chunk>,
    run_id: Uuid,
    workers: usize,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start an I/O runtime: {e}")))?;
    rt.block_on(async move {
        let rx = Arc::new(Mutex::new(rx));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            set.spawn(worker(
                target.clone(),
                jobs.clone(),
                rx.clone(),
                run_id,
                progress.clone(),
                stop.clone(),
            ));
        }
        let mut first = None;
        while let Some(done) = set.join_next().await {
            let outcome = done
                .unwrap_or_else(|e| Err(Error::Environment(format!("a COPY stream stopped: {e}"))));
            if let Err(e) = outcome {
                if first.is_none() {
                    first = Some(e);
                    stop.store(true, Ordering::SeqCst);
                    // Unblocks the reader: its next send fails and it stops.
                    rx.lock().await.close();
                }
            }
        }
        first.map_or(Ok(()), Err)
    })
}

fn copy_sql(job: &TableJob) -> String {
    let cols: Vec<String> = job.columns.iter().map(|c| c.target.clone()).collect();
    copy_in::statement(&job.qualified, &cols)
}

async fn worker(
    target: Target,
    jobs: Arc<Vec<TableJob>>,
    rx: Arc<Mutex<Receiver<Chunk>>>,
    run_id: Uuid,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut client = connect_async(&target).await?;
    let shown = target.display().to_string();
    // A chunk and its progress row commit together; losing the last commits in a server
    // crash only means those chunks are copied again on resume.
    client
        .batch_execute("SET synchronous_commit = off")
        .await
        .map_err(|e| classify(&shown, "preparing a COPY session", &e))?;
    loop {
        let chunk = rx.lock().await.recv().await;
        let Some(chunk) = chunk else {
            return Ok(());
        };
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let job = &jobs[chunk.table];
        write_chunk(&mut client, job, chunk, run_id, &progress)
            .await
            .map_err(|e| match e {
                Failure::Pg(context, e) => classify(&shown, &context, &e),
                Failure::Other(e) => e,
            })?;
    }
}

enum Failure {
    Pg(String, tokio_postgres::Error),
    Other(Error),
}

fn copy_failure(context: String, e: CopyFailure) -> Failure {
    match e {
        CopyFailure::Pg(e) => Failure::Pg(context, e),
        count @ CopyFailure::Count { .. } => Failure::Other(Error::Postgres {
            context,
            message: count.describe(),
            sqlstate: None,
        }),
    }
}

/// A value the target refuses (a data exception or a violated constraint), by the one
/// SQLSTATE table: the chunk is split to find the row, not the run stopped.
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    let code = e.code().map(|c| c.code());
    code.is_some() && sqlstate::classify(code).kind == sqlstate::Kind::Data
}

fn row_key(job: &TableJob, keys_: &RowKeys, i: usize) -> serde_json::Value {
    let key: Key = match keys_ {
        RowKeys::Rowids(v) => vec![rusqlite::types::Value::Integer(v[i])],
        RowKeys::Keys(v) => v[i].clone(),
    };
    keys::display(&job.key_names, &key)
}

async fn write_chunk(
    client: &mut tokio_postgres::Client,
    job: &TableJob,
    mut chunk: Chunk,
    run_id: Uuid,
    progress: &Progress,
) -> std::result::Result<(), Failure> {
    let started = Instant::now();
    let sql = copy_sql(job);
    let ctx = |what: &str| format!("{what} of table {}", quote_ident(&job.target));
    let data = Bytes::from(std::mem::take(&mut chunk.data));
    let rows = chunk.row_ends.len();
    let end = |i: usize| {
        if i == 0 {
            0
        } else {
            chunk.row_ends[i - 1] as usize
        }
    };
    let mut tx = client
        .transaction()
        .await
        .map_err(|e| Failure::Pg(ctx("starting a chunk"), e))?;
    let mut written = 0u64;
    let encoder_rejects = chunk.rejects.len();
    // Under a savepoint, so a refusal leaves the transaction usable for the search below.
    let first = tx
        .savepoint("lite2pg_chunk")
        .await
        .map_err(|e| Failure::Pg(ctx("starting a chunk"), e))?;
    let attempt = copy_in::send(&first, &sql, data.clone(), rows as u64).await;
    match attempt {
        Ok(n) => {
            first
                .commit()
                .await
                .map_err(|e| Failure::Pg(ctx("COPY"), e))?;
            written = n;
        }
        Err(CopyFailure::Pg(e)) if is_data_error(&e) => {
            first
                .rollback()
                .await
                .map_err(|e| Failure::Pg(ctx("COPY"), e))?;
            // Find the refused rows: halves under savepoints, down to single rows.
            let mut stack = vec![(0usize, rows)];
            while let Some((a, b)) = stack.pop() {
                let sp = tx
                    .savepoint("lite2pg_rows")
                    .await
                    .map_err(|e| Failure::Pg(ctx("isolating refused rows"), e))?;
                let range = data.slice(end(a)..end(b));
                match copy_in::send(&sp, &sql, range, (b - a) as u64).await {
                    Ok(n) => {
                        sp.commit()
                            .await
                            .map_err(|e| Failure::Pg(ctx("isolating refused rows"), e))?;
                        written += n;
                    }
                    Err(CopyFailure::Pg(e)) if is_data_error(&e) => {
                        sp.rollback()
                            .await
                            .map_err(|e| Failure::Pg(ctx("isolating refused rows"), e))?;
                        if b - a == 1 {
                            let detail = e
                                .as_db_error()
                                .and_then(|d| d.detail().map(|s| format!(" ({s})")))
                                .unwrap_or_default();
                            chunk.rejects.push(Reject {
                                key: row_key(job, &chunk.row_keys, a),
                                column: e
                                    .as_db_error()
                                    .and_then(|d| d.column().map(str::to_string)),
                                reason: format!(
                                    "PostgreSQL refused the row: {}{detail}",
                                    describe(&e)
                                ),
                                value: None,
                                value_kind: "row",
                                carried: false,
                            });
                        } else {
                            let m = (a + b) / 2;
                            stack.push((m, b));
                            stack.push((a, m));
                        }
                    }
                    Err(e) => return Err(copy_failure(ctx("isolating refused rows"), e)),
                }
            }
        }
        Err(e) => return Err(copy_failure(ctx("COPY"), e)),
    }
    let rejected = chunk.rejects.iter().filter(|r| !r.carried).count() as i64;
    let expected = (rows - (chunk.rejects.len() - encoder_rejects)) as u64;
    if written != expected {
        return Err(Failure::Other(Error::Postgres {
            context: ctx("COPY"),
            message: format!("PostgreSQL reports {written} rows written, {expected} were sent"),
            sqlstate: None,
        }));
    }
    let lo = chunk.lo.as_ref().map(keys::to_json);
    let hi = chunk.hi.as_ref().map(keys::to_json);
    let seconds = started.elapsed().as_secs_f64();
    let bytes = data.len() as i64;
    tx.execute(
        "INSERT INTO lite2pg.chunks (run_id, target_name, ord, lo, hi, rows_read, rows_written, \
         rows_rejected, bytes, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &run_id,
            &job.target,
            &chunk.ord,
            &lo,
            &hi,
            &(chunk.read as i64),
            &(written as i64),
            &rejected,
            &bytes,
            &seconds,
        ],
    )
    .await
    .map_err(|e| Failure::Pg(ctx("recording a chunk"), e))?;
    for r in &chunk.rejects {
        tx.execute(
            "INSERT INTO lite2pg.rejects (run_id, target_name, ord, key, column_name, reason, \
             value, value_kind, carried) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &run_id,
                &job.target,
                &chunk.ord,
                &r.key,
                &r.column,
                &r.reason,
                &r.value,
                &r.value_kind,
                &r.carried,
            ],
        )
        .await
        .map_err(|e| Failure::Pg(ctx("recording a rejected row"), e))?;
    }
    tx.commit()
        .await
        .map_err(|e| Failure::Pg(ctx("committing a chunk"), e))?;
    crate::failpoint::hit("copy.after_chunk");
    progress.written(chunk.table, written, rejected as u64, bytes as u64);
    Ok(())
}
