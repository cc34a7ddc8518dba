//! A small blocking facade over tokio-postgres, for the phases that run statements in order.

use tokio::runtime::Runtime;
use tokio_postgres::{NoTls, Row};

use super::Target;
use crate::error::sqlstate::{self, Kind};
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

/// The server's message with its SQLSTATE and the object it names, never the bare driver
/// text.
pub fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        return e.to_string();
    };
    let mut objects = Vec::new();
    if let Some(t) = db.table() {
        let t = match db.schema() {
            Some(s) => super::qualified(s, t),
            None => super::quote_ident(t),
        };
        objects.push(format!("table {t}"));
    }
    if let Some(c) = db.column() {
        objects.push(format!("column {}", super::quote_ident(c)));
    }
    if let Some(c) = db.constraint() {
        objects.push(format!("constraint {}", super::quote_ident(c)));
    }
    let mut out = format!("{} (SQLSTATE {}", db.message(), db.code().code());
    if !objects.is_empty() {
        out.push_str("; ");
        out.push_str(&objects.join(", "));
    }
    if let Some(d) = db.detail() {
        out.push_str(&format!("; {d}"));
    }
    out.push(')');
    out
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

/// Runs `body` on `owner` inside a transaction on the client `client` reaches: `BEGIN`, then
/// `COMMIT` when the body returns `Some`, `ROLLBACK` when it returns `None` or fails (the
/// body's error is the one returned). `what` names the work in messages.
pub fn in_transaction<S: ?Sized, T>(
    owner: &mut S,
    client: fn(&mut S) -> &mut Client,
    what: &str,
    body: impl FnOnce(&mut S) -> Result<Option<T>>,
) -> Result<Option<T>> {
    client(owner).batch_execute(&format!("starting {what}"), "BEGIN")?;
    match body(owner) {
        Ok(Some(out)) => {
            client(owner).batch_execute(&format!("committing {what}"), "COMMIT")?;
            Ok(Some(out))
        }
        Ok(None) => {
            client(owner).batch_execute(&format!("ending {what}"), "ROLLBACK")?;
            Ok(None)
        }
        Err(e) => {
            let _ = client(owner).batch_execute(&format!("rolling back {what}"), "ROLLBACK");
            Err(e)
        }
    }
}

/// Sorts a driver error by its SQLSTATE ([`crate::error::sqlstate`]): a lost session
/// becomes [`Error::Connect`] (exit 3, resumable), anything else [`Error::Postgres`]
/// carrying the code, the object the server names and the remedy.
pub fn classify(target: &str, context: &str, e: &tokio_postgres::Error) -> Error {
    let code = if e.is_closed() {
        None
    } else {
        e.as_db_error().map(|db| db.code().code().to_string())
    };
    let class = sqlstate::classify(code.as_deref());
    if class.kind == Kind::Connection {
        return Error::Connect {
            target: target.to_string(),
            problem: format!("connection lost during {context}: {}", describe(e)),
        };
    }
    let message = match class.hint {
        Some(what) => format!("{}; {what}", describe(e)),
        None => describe(e),
    };
    Error::Postgres {
        context: context.to_string(),
        message,
        sqlstate: code,
    }
}
