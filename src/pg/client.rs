//! A small blocking facade over tokio-postgres, for the phases that run statements in order.

use tokio::runtime::Runtime;
use tokio_postgres::{NoTls, Row};

use super::mask_url;
use crate::error::{Error, Result};

/// A connection plus the single-threaded runtime that drives it.
pub struct Client {
    rt: Runtime,
    client: tokio_postgres::Client,
    target: String,
}

/// Connects to `url` (libpq URL or key/value form).
pub fn connect(url: &str) -> Result<Client> {
    let target = mask_url(url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start an I/O runtime: {e}")))?;
    let config: tokio_postgres::Config = url.parse().map_err(|e| Error::Connect {
        target: target.clone(),
        problem: format!("not a valid connection string: {e}"),
    })?;
    let (client, connection) = rt
        .block_on(config.connect(NoTls))
        .map_err(|e| Error::Connect {
            target: target.clone(),
            problem: format!(
                "{}; check that the server is running and the URL, user and password are right",
                describe(&e)
            ),
        })?;
    rt.spawn(async move {
        // The connection task ends when the client is dropped; its error, if any, is
        // reported by the next statement.
        let _ = connection.await;
    });
    Ok(Client { rt, client, target })
}

/// The server's message with its SQLSTATE, never the bare driver text.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl Client {
    /// Runs one or more statements as a simple query.
    pub fn batch_execute(&self, context: &str, sql: &str) -> Result<()> {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| self.error(context, &e))
    }

    /// Runs a query with text parameters and returns its rows.
    pub fn query(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.rt
            .block_on(self.client.query(sql, params))
            .map_err(|e| self.error(context, &e))
    }

    /// The target, password masked.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn error(&self, context: &str, e: &tokio_postgres::Error) -> Error {
        if e.is_closed() || e.as_db_error().is_none() && e.to_string().contains("connection") {
            Error::Connect {
                target: self.target.clone(),
                problem: format!("connection lost during {context}: {}", describe(e)),
            }
        } else {
            Error::Postgres {
                context: context.to_string(),
                message: describe(e),
            }
        }
    }
}
