//! Where to connect: a libpq URL or key/value string, completed from the `PG*` environment
//! variables and `~/.pgpass` the way psql users expect. The password is never displayed.

use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use super::mask_url;
use super::tls::{self, SslMode, TlsSettings};
use crate::error::{Error, Result};

/// Where a command goes, as the user named it.
#[derive(Debug, Clone)]
pub enum TargetChoice {
    /// A libpq URL or key/value string (`--to`, `DATABASE_URL`).
    Url(String),
    /// The server the `PG*` environment variables name.
    Env,
    /// No target: a throwaway local server, removed afterwards (`migrate` only).
    Rehearsal,
}

impl TargetChoice {
    /// `--to`/`DATABASE_URL` if given, else the `PG*` variables if they name a server, else
    /// a rehearsal.
    pub fn from(url: Option<String>) -> TargetChoice {
        match url {
            Some(u) if !u.is_empty() => TargetChoice::Url(u),
            _ if Target::from_env().is_some() => TargetChoice::Env,
            _ => TargetChoice::Rehearsal,
        }
    }

    /// The server this choice names; `None` for a rehearsal, which only `migrate` can run.
    pub fn resolve(&self) -> Option<Result<Target>> {
        match self {
            TargetChoice::Url(u) => Some(Target::parse(u)),
            TargetChoice::Env => Some(
                Target::from_env()
                    .unwrap_or_else(|| Err(Error::Usage("no PG* variables name a server".into()))),
            ),
            TargetChoice::Rehearsal => None,
        }
    }

    /// The server this choice names, or a usage error saying `command` needs a real one.
    pub fn require(&self, command: &str) -> Result<Target> {
        self.resolve().unwrap_or_else(|| {
            Err(Error::Usage(format!(
                "{command} needs a target: --to postgres://USER@HOST/DB, DATABASE_URL or PG* \
                 variables"
            )))
        })
    }
}

/// A PostgreSQL server and database to connect to.
#[derive(Clone)]
pub struct Target {
    config: Config,
    display: String,
    tls: TlsSettings,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// Environment variables that name a target on their own.
const TARGET_VARS: [&str; 4] = ["PGHOST", "PGHOSTADDR", "PGDATABASE", "PGPORT"];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Target {
    /// Parses `url` and fills what it leaves out from the environment and the password file.
    pub fn parse(url: &str) -> Result<Target> {
        let display = mask_url(url);
        // tokio-postgres knows neither verify-ca/verify-full nor the certificate options.
        let (rest, taken) = tls::split(url);
        let config: Config = rest.parse().map_err(|e| Error::Connect {
            target: display.clone(),
            problem: format!("not a valid connection string: {e}"),
        })?;
        Target::complete(config, display, &taken)
    }

    /// The target the `PG*` environment variables name, when they name one.
    pub fn from_env() -> Option<Result<Target>> {
        if !TARGET_VARS.iter().any(|v| env(v).is_some()) {
            return None;
        }
        Some(Target::complete(
            Config::new(),
            "the server named by PG* variables".into(),
            &[],
        ))
    }

    fn complete(
        mut config: Config,
        mut display: String,
        taken: &[(String, String)],
    ) -> Result<Target> {
        if config.get_hosts().is_empty() {
            match env("PGHOST").or_else(|| env("PGHOSTADDR")) {
                Some(h) => {
                    for host in h.split(',') {
                        config.host(host);
                    }
                }
                None if std::path::Path::new("/var/run/postgresql").is_dir() => {
                    config.host("/var/run/postgresql");
                }
                None => {
                    config.host("localhost");
                }
            }
        }
        if config.get_ports().is_empty() {
            // One port for every host, or one per host (PGHOST=h1,h2 PGPORT=5432,5433).
            if let Some(ports) = env("PGPORT") {
                for p in ports.split(',') {
                    let port = p.trim().parse().map_err(|_| Error::Connect {
                        target: display.clone(),
                        problem: format!("PGPORT={ports} is not a port or a list of ports"),
                    })?;
                    config.port(port);
                }
            }
        }
        // libpq's variable for `target_session_attrs`: with several hosts, `read-write`
        // finds the primary after a failover.
        use tokio_postgres::config::TargetSessionAttrs;
        if config.get_target_session_attrs() == TargetSessionAttrs::Any {
            match env("PGTARGETSESSIONATTRS").as_deref() {
                None | Some("any") => {}
                Some("read-write") => {
                    config.target_session_attrs(TargetSessionAttrs::ReadWrite);
                }
                Some("read-only") => {
                    config.target_session_attrs(TargetSessionAttrs::ReadOnly);
                }
                Some(other) => {
                    return Err(Error::Connect {
                        target: display,
                        problem: format!(
                            "PGTARGETSESSIONATTRS={other} is not one of any, read-write, read-only"
                        ),
                    })
                }
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".into());
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            if let Some(db) = env("PGDATABASE") {
                config.dbname(&db);
            }
        }
        if config.get_application_name().is_none() {
            config.application_name("lite2pg");
        }
        if config.get_connect_timeout().is_none() {
            let secs = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10);
            config.connect_timeout(Duration::from_secs(secs));
        }
        if config.get_password().is_none() {
            if let Some(pw) = env("PGPASSWORD").or_else(|| pgpass(&config)) {
                config.password(pw);
            }
        }
        let option = |key: &str, var: &str| {
            taken
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .or_else(|| env(var))
        };
        let mode = match option("sslmode", "PGSSLMODE") {
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(&m).ok_or_else(|| Error::Connect {
                target: display.clone(),
                problem: format!(
                    "sslmode={m} is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full"
                ),
            })?,
        };
        let tls = TlsSettings {
            mode,
            root_cert: option("sslrootcert", "PGSSLROOTCERT").map(PathBuf::from),
            client_cert: option("sslcert", "PGSSLCERT").map(PathBuf::from),
            client_key: option("sslkey", "PGSSLKEY").map(PathBuf::from),
        };
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if display.is_empty() {
            display = "the default local server".into();
        }
        Ok(Target {
            config,
            display,
            tls,
        })
    }

    /// How the connection is encrypted and checked.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// The target for people, password masked.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The driver configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The same server, another database.
    pub fn with_dbname(&self, db: &str) -> Target {
        let mut config = self.config.clone();
        config.dbname(db);
        Target {
            config,
            display: format!("{} (database {db})", self.display),
            tls: self.tls.clone(),
        }
    }
}

fn pgpass_file() -> Option<PathBuf> {
    if let Some(p) = env("PGPASSFILE") {
        return Some(PathBuf::from(p));
    }
    env("HOME").map(|h| PathBuf::from(h).join(".pgpass"))
}

/// Splits a `.pgpass` line on unescaped colons.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if let Some(last) = fields.last_mut() {
                        last.push(n);
                    }
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

/// The password `~/.pgpass` (or `PGPASSFILE`) gives for this connection, as libpq finds it.
fn pgpass(config: &Config) -> Option<String> {
    let text = std::fs::read_to_string(pgpass_file()?).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        // libpq matches socket connections against "localhost".
        #[cfg(unix)]
        Host::Unix(_) => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    let db = config.get_dbname().unwrap_or(&user).to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(pgpass_fields)
        .find(|f| {
            f.len() == 5
                && [&host, &port, &db, &user]
                    .iter()
                    .zip(f)
                    .all(|(want, got)| got == "*" || got == *want)
        })
        .map(|f| f[4].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_host_url_names_every_server_and_asks_for_the_primary() {
        let t = Target::parse(
            "postgres://app:s3cret@db1:5432,db2:5433/shop?target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(t.config().get_hosts().len(), 2);
        assert_eq!(t.config().get_ports(), &[5432, 5433]);
        assert_eq!(
            t.config().get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
        assert!(!t.display().contains("s3cret"), "{}", t.display());
    }

    #[test]
    fn pgpass_lines_split_on_unescaped_colons() {
        assert_eq!(
            pgpass_fields(r"db\:host:5432:*:app:pa\:ss\\w"),
            vec!["db:host", "5432", "*", "app", r"pa:ss\w"]
        );
    }

    #[test]
    fn pgpass_supplies_the_password_for_a_matching_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:*:no\ndbhost:5433:*:app:s3cret\n",
        )
        .unwrap();
        let config: Config = "host=dbhost port=5433 user=app dbname=x".parse().unwrap();
        // The variable is read only by this test in this process.
        std::env::set_var("PGPASSFILE", &file);
        assert_eq!(pgpass(&config).as_deref(), Some("s3cret"));
        std::env::remove_var("PGPASSFILE");
    }
}
