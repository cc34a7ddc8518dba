//! A small blocking facade over tokio-postgres, for the phases that run statements in order.

use tokio::runtime::Runtime;
use tokio_postgres::{NoTls, Row};

use super::Target;
use crate::error::{Error, Result};

/// A connection plus the single-threaded runtime that drives it.
pub struct Client {
    rt: Runtime,
    client: tokio_postgres::Client,
    target: String,
}

/// Connects to `url` (libpq URL or key/value form, completed from `PG*` variables).
pub fn connect(url: &str) -> Result<Client> {
    connect_target(&Target::parse(url)?)
}

/// Connects to a resolved target.
pub fn connect_target(target: &Target) -> Result<Client> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start an I/O runtime: {e}")))?;
    let client = rt.block_on(connect_async(target))?;
    Ok(Client {
        rt,
        client,
        target: target.display().to_string(),
    })
}

/// Connects from inside a tokio runtime; the connection is driven by a spawned task.
pub async fn connect_async(target: &Target) -> Result<tokio_postgres::Client> {
    // connect_timeout bounds the TCP connect; a server that accepts and then says nothing
    // (stopped, wedged) is bounded here, over the whole start-up.
    let limit = target
        .config()
        .get_connect_timeout()
        .copied()
        .unwrap_or(std::time::Duration::from_secs(10));
    let tls = target
        .tls()
        .client_config()
        .map_err(|problem| Error::Connect {
            target: target.display().to_string(),
            problem,
        })?;
    let connecting = async {
        match tls {
            None => {
                let (client, connection) = target.config().connect(NoTls).await?;
                tokio::spawn(async move {
                    // Ends when the client is dropped; its error, if any, is reported by the
                    // next statement.
                    let _ = connection.await;
                });
                Ok::<_, tokio_postgres::Error>(client)
            }
            Some(config) => {
                let connector = tokio_postgres_rustls::MakeRustlsConnect::new(config);
                let (client, connection) = target.config().connect(connector).await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(client)
            }
        }
    };
    let attempt = tokio::time::timeout(limit, connecting).await;
    let client = match attempt {
        Err(_) => {
            return Err(Error::Connect {
                target: target.display().to_string(),
                problem: format!(
                    "no answer within {} s (connect_timeout or PGCONNECT_TIMEOUT sets this \
                     limit); check that the server is running and reachable",
                    limit.as_secs()
                ),
            })
        }
        Ok(outcome) => outcome.map_err(|e| {
            let what = describe(&e);
            let hint = if what.contains("certificate") || what.contains("TLS") {
                "check sslmode and sslrootcert (the certificate that signed the server's)"
            } else {
                "check that the server is running and the URL, user and password are right"
            };
            Error::Connect {
                target: target.display().to_string(),
                problem: format!("{what}; {hint}"),
            }
        })?,
    };
    Ok(client)
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

    /// Runs `f` on the connection inside this client's runtime.
    pub fn with<'a, T, F, Fut>(&'a mut self, f: F) -> T
    where
        F: FnOnce(&'a mut tokio_postgres::Client) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        self.rt.block_on(f(&mut self.client))
    }

    fn error(&self, context: &str, e: &tokio_postgres::Error) -> Error {
        classify(&self.target, context, e)
    }
}

/// Whether a server error means the session is gone: connection exceptions (class 08) and
/// the server shutting down or restarting (57P01-57P03).
fn session_lost(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Sorts a driver error into a lost connection (exit 3, resumable) or a refused statement.
pub fn classify(target: &str, context: &str, e: &tokio_postgres::Error) -> Error {
    let lost = e.is_closed()
        || match e.as_db_error() {
            None => true,
            Some(db) => session_lost(db.code().code()),
        };
    if lost {
        Error::Connect {
            target: target.to_string(),
            problem: format!("connection lost during {context}: {}", describe(e)),
        }
    } else {
        let code = e.as_db_error().map(|db| db.code().code()).unwrap_or("");
        let message = match remedy(code) {
            Some(what) => format!("{}; {what}", describe(e)),
            None => describe(e),
        };
        Error::Postgres {
            context: context.to_string(),
            message,
        }
    }
}

/// What to do about errors that are the target's setup, not the data: said once, here,
/// for every statement lite2pg sends.
fn remedy(code: &str) -> Option<&'static str> {
    Some(match code {
        "42501" => {
            "the role lite2pg connects as lacks this privilege: connect as the database owner, \
             or grant it (lite2pg needs CREATE on the database for its control schema `lite2pg` \
             and on the target schema, or ownership of existing tables for --data-only)"
        }
        "25006" => {
            "the target accepts no writes (a hot standby, or default_transaction_read_only is \
             on): point --to at the primary"
        }
        "53100" => {
            "the server's disk is full: free space on the server, then run again with --resume"
        }
        "53200" => "the server ran out of memory: lower --jobs, or give the server more memory",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{remedy, session_lost};

    #[test]
    fn privilege_and_read_only_errors_say_what_to_do() {
        assert!(remedy("42501").unwrap().contains("privilege"));
        assert!(remedy("25006").unwrap().contains("primary"));
        assert!(remedy("23505").is_none());
    }

    #[test]
    fn server_shutdown_and_connection_errors_count_as_a_lost_session() {
        assert!(session_lost("57P01"));
        assert!(session_lost("08006"));
        assert!(!session_lost("23505"));
        assert!(!session_lost("42P01"));
    }
}
