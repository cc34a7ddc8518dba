//! The library's error type: every failure names the object it concerns and what to do.
//!
//! Each variant maps to one of the exit codes promised in DESIGN.md (rule 7), so the
//! binary never has to guess: `Source` and `Usage` are the user's to fix (2), `Connect` and
//! `Environment` are the machine's or the network's (3), and a server error is classified
//! by its SQLSTATE in one table ([`sqlstate`]).

pub mod sqlstate;

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure that stops a command, with the context a user needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite file cannot be used as a source (missing, not SQLite, corrupt, locked, ...).
    #[error("{path}: {problem}")]
    Source {
        /// The file the user named.
        path: PathBuf,
        /// One line saying what is wrong and, where there is one, the remedy.
        problem: String,
    },
    /// Another connection holds SQLite's write lock past the busy timeout: the source is
    /// fine, just busy (exit 2 like any unusable source; `sync` waits and tries again).
    #[error("{path}: {problem}")]
    Busy {
        /// The file the user named.
        path: PathBuf,
        /// What was being done, and the remedy.
        problem: String,
    },
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// PostgreSQL could not be reached or refused the session.
    #[error("{target}: {problem}")]
    Connect {
        /// The target, with any password masked.
        target: String,
        /// What went wrong and what to try.
        problem: String,
    },
    /// A statement failed in PostgreSQL.
    #[error("{context}: {message}")]
    Postgres {
        /// Which object or phase the statement belonged to.
        context: String,
        /// The server's message, with SQLSTATE, the object it names and the remedy.
        message: String,
        /// The SQLSTATE, which decides the exit code and whether to retry.
        sqlstate: Option<String>,
    },
    /// The local environment lacks something (server binaries, a writable temp dir, ...).
    #[error("{0}")]
    Environment(String),
    /// A step refused or undone because the data or the state is not fit for it (a cutover
    /// whose verification found differences, a sync that met a changed schema): exit 1.
    #[error("{0}")]
    Refused(String),
    /// An I/O failure while writing output.
    #[error("{context}: {source}")]
    Io {
        /// What was being written or read.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code this error stands for (DESIGN.md rule 7).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Source { .. } | Error::Busy { .. } | Error::Usage(_) => 2,
            Error::Postgres { sqlstate, .. } => sqlstate::classify(sqlstate.as_deref()).exit_code(),
            Error::Connect { .. } | Error::Environment(_) => 3,
            Error::Io { .. } => 3,
            Error::Refused(_) => 1,
        }
    }

    /// Whether the session to the server is what failed (a restart, a failover, a dropped
    /// or timed-out connection), so connecting again may be all it takes.
    pub fn is_connection(&self) -> bool {
        match self {
            Error::Postgres { sqlstate, .. } => {
                sqlstate::classify(sqlstate.as_deref()).kind == sqlstate::Kind::Connection
            }
            Error::Connect { .. } => true,
            _ => false,
        }
    }

    /// Whether SQLite's write lock was held by another connection for longer than the busy
    /// timeout, so waiting may be all it takes.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Busy { .. })
    }

    /// What to do about this error: retry the step, resume later, or stop.
    pub fn policy(&self) -> sqlstate::Policy {
        match self {
            Error::Postgres { sqlstate, .. } => sqlstate::classify(sqlstate.as_deref()).policy,
            Error::Connect { .. } | Error::Environment(_) | Error::Io { .. } => {
                sqlstate::Policy::Resume
            }
            _ => sqlstate::Policy::Stop,
        }
    }

    /// Builds a [`Error::Source`] for `path`.
    pub fn source(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::Source {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Builds an [`Error::Io`] with a description of what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
