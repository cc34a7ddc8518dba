//! The one `COPY … FROM STDIN (FORMAT binary)` of lite2pg, used by the copier's sink and
//! by the forward applier: it frames encoded tuples with the binary header and trailer,
//! finishes the stream explicitly (dropping a sink aborts the COPY), and checks the row
//! count the server returns against the rows sent, so a short COPY can never pass
//! unnoticed.

use std::future::Future;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::CopyInSink;

use super::encode::{HEADER, TRAILER};
use crate::pg::quote_ident;

/// A connection or transaction a COPY can run on.
pub trait CopyTarget {
    /// Starts `COPY … FROM STDIN` with `sql`.
    fn start(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send;
}

impl CopyTarget for tokio_postgres::Client {
    fn start(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send {
        self.copy_in(sql)
    }
}

impl CopyTarget for tokio_postgres::Transaction<'_> {
    fn start(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send {
        self.copy_in(sql)
    }
}

/// Why a COPY did not write what it was sent.
#[derive(Debug)]
pub enum CopyFailure {
    /// The server refused the statement or a row, or the connection failed.
    Pg(tokio_postgres::Error),
    /// The server finished the COPY with another row count than was sent.
    Count {
        /// Rows the server reports written.
        written: u64,
        /// Rows sent.
        sent: u64,
    },
}

impl CopyFailure {
    /// A one-line description for an error message.
    pub fn describe(&self) -> String {
        match self {
            CopyFailure::Pg(e) => crate::pg::describe(e),
            CopyFailure::Count { written, sent } => {
                format!("PostgreSQL reports {written} rows written, {sent} were sent")
            }
        }
    }
}

/// `COPY table (columns) FROM STDIN (FORMAT binary)` for a qualified, quoted `table` and
/// unquoted column names.
pub fn statement(table: &str, columns: &[String]) -> String {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!(
        "COPY {table} ({}) FROM STDIN (FORMAT binary)",
        cols.join(", ")
    )
}

/// Sends `rows` encoded tuples (`tuples`, without header and trailer) through `sql` on
/// `target` and returns the row count, which must equal `rows`.
pub async fn send(
    target: &impl CopyTarget,
    sql: &str,
    tuples: Bytes,
    rows: u64,
) -> Result<u64, CopyFailure> {
    let sink = target.start(sql).await.map_err(CopyFailure::Pg)?;
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from_static(HEADER))
        .await
        .map_err(CopyFailure::Pg)?;
    if !tuples.is_empty() {
        sink.send(tuples).await.map_err(CopyFailure::Pg)?;
    }
    sink.send(Bytes::from_static(TRAILER))
        .await
        .map_err(CopyFailure::Pg)?;
    let written = sink.finish().await.map_err(CopyFailure::Pg)?;
    if written != rows {
        return Err(CopyFailure::Count {
            written,
            sent: rows,
        });
    }
    Ok(written)
}
