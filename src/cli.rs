//! Command-line definitions (clap) and their conversion into validated library requests.
//! This is the only file that knows about clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use lite2pg::capture::switch::{FinishRequest, SwitchRequest};
use lite2pg::capture::sync::{StatusRequest, SyncRequest};
use lite2pg::demo::DemoRequest;
use lite2pg::migrate::{default_jobs, MigrateRequest, Mode};
use lite2pg::pg::TargetChoice;
use lite2pg::plan::IdentPolicy;
use lite2pg::plan::PlanOptions;
use lite2pg::plan::TypeConflicts;
use lite2pg::translate::{Check, Format, PlanRequest};
use lite2pg::verify::{Output, VerifyRequest};

/// lite2pg: move a live SQLite database into PostgreSQL without losing a value.
#[derive(Debug, Parser)]
#[command(name = "lite2pg", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Read a SQLite file, profile its data, and print the PostgreSQL DDL and every decision.
    Plan {
        /// The SQLite database file (opened read-only).
        db: PathBuf,
        /// Output: readable summary, JSON (docs/plan-format.md) or runnable SQL.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Lower-case plain names so unquoted SQL keeps working, or keep every name as written.
        #[arg(long, value_enum, default_value_t = IdentArg::Lower)]
        identifiers: IdentArg,
        /// For columns holding several storage classes: a type that holds them all, or the
        /// majority's type with the rest rejected.
        #[arg(long = "type-conflicts", value_enum, default_value_t = ConflictArg::Widen)]
        type_conflicts: ConflictArg,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Test-apply the DDL on this server (rolled back) instead of a throwaway local one.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Do not test-apply the DDL.
        #[arg(long)]
        no_check: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Move a SQLite database into PostgreSQL: schema, data by binary COPY, keys, indexes,
    /// foreign keys, sequences, then verification. With no target: a rehearsal on a
    /// throwaway local PostgreSQL.
    Migrate {
        /// The SQLite database file (opened read-only).
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        /// Omit it, and DATABASE_URL and PG*, to rehearse on a throwaway server.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Parallel COPY streams and index builds (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Only these tables (SQLite names; globs with * and ?, comma-separated).
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
        /// Leave out these tables (globs, comma-separated).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// Create the schema only; copy no data.
        #[arg(long, conflicts_with = "data_only")]
        schema_only: bool,
        /// Copy data into tables that already exist; create nothing.
        #[arg(long)]
        data_only: bool,
        /// Continue the newest unfinished run into this schema from its last committed chunk.
        #[arg(long, conflicts_with = "replace")]
        resume: bool,
        /// Drop tables and views of the same names in the target schema first.
        #[arg(long)]
        replace: bool,
        /// Skip the verification at the end.
        #[arg(long)]
        no_verify: bool,
        /// Where rejected rows are listed, one JSON line each (default: DB-STEM.rejects.jsonl).
        #[arg(long)]
        reject_file: Option<PathBuf>,
        /// Also write the run report here; .json or .md (may be given several times).
        #[arg(long)]
        report: Vec<PathBuf>,
        /// No progress display.
        #[arg(long, short)]
        quiet: bool,
        /// Give up (exit 3, resumable) when the server answers no ping for this many seconds.
        #[arg(long, default_value_t = 60)]
        stall_timeout: u64,
        /// Lower-case plain names so unquoted SQL keeps working, or keep every name as written.
        #[arg(long, value_enum, default_value_t = IdentArg::Lower)]
        identifiers: IdentArg,
        /// For columns holding several storage classes: a type that holds them all, or the
        /// majority's type with the rest rejected.
        #[arg(long = "type-conflicts", value_enum, default_value_t = ConflictArg::Widen)]
        type_conflicts: ConflictArg,
    },
    /// Prove every migrated row equals its SQLite source: range digests (sha256) on both
    /// sides, differing ranges compared row by row; plus the schema against the plan.
    /// Exit 0 all match, 1 differences, 2 usage or input, 3 connection.
    Verify {
        /// The SQLite database file (opened read-only).
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Only these tables (SQLite names; globs with * and ?, comma-separated).
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
        /// Leave out these tables (globs, comma-separated).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// Also write the report here; .json, .md or .html (may be given several times).
        #[arg(long)]
        report: Vec<PathBuf>,
        /// Standard output: readable summary, or the JSON report (docs/report-format.md).
        #[arg(long, value_enum, default_value_t = VerifyFormatArg::Text)]
        format: VerifyFormatArg,
        /// Parallel readers (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Compare only this fraction of rows (chosen by key hash, the same on both sides).
        #[arg(long, default_value_t = 1.0)]
        sample: f64,
        /// Differing rows listed per table (all are counted).
        #[arg(long, default_value_t = 1000)]
        max_mismatches: usize,
        /// Give up (exit 3) when the server answers no ping for this many seconds.
        #[arg(long, default_value_t = 60)]
        stall_timeout: u64,
    },
    /// Keep PostgreSQL in step with a live SQLite file: arm change capture, migrate under it
    /// if the target has no synced copy yet, then apply every change until SIGINT/SIGTERM.
    Sync {
        /// The live SQLite database file (lite2pg adds its capture triggers and change log).
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Milliseconds between polls of an empty change log.
        #[arg(long, default_value_t = 200)]
        interval: u64,
        /// Stop once every logged change is applied.
        #[arg(long)]
        once: bool,
        /// Migrate again under capture, dropping tables of the same names first.
        #[arg(long)]
        replace: bool,
        /// Parallel COPY streams for the initial migration (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
        /// Give up (exit 3) when the server answers no ping for this many seconds.
        #[arg(long, default_value_t = 60)]
        stall_timeout: u64,
        /// Lower-case plain names so unquoted SQL keeps working, or keep every name as written.
        #[arg(long, value_enum, default_value_t = IdentArg::Lower)]
        identifiers: IdentArg,
        /// For columns holding several storage classes: a type that holds them all, or the
        /// majority's type with the rest rejected.
        #[arg(long = "type-conflicts", value_enum, default_value_t = ConflictArg::Widen)]
        type_conflicts: ConflictArg,
    },
    /// Show the dual-write state: primary, direction, pending changes, lag, errors.
    Status {
        /// The SQLite database file.
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Readable summary, or JSON.
        #[arg(long, value_enum, default_value_t = VerifyFormatArg::Text)]
        format: VerifyFormatArg,
    },
    /// Make PostgreSQL the primary: freeze SQLite's writers, drain, verify, set sequences,
    /// capture PostgreSQL's changes, guard SQLite against writes, release.
    Cutover {
        /// The SQLite database file being synced.
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Undo and leave SQLite primary if writers would be frozen longer (seconds).
        #[arg(long, default_value_t = 5.0)]
        max_freeze: f64,
        /// What to verify during the freeze: the tables written since the last
        /// verification, or every table.
        #[arg(long, value_enum, default_value_t = VerifyScope::Touched)]
        verify: VerifyScope,
        /// Switch even when rows reference missing parents (SQLite let them in).
        #[arg(long)]
        allow_orphans: bool,
        /// Readable summary, or JSON.
        #[arg(long, value_enum, default_value_t = VerifyFormatArg::Text)]
        format: VerifyFormatArg,
    },
    /// After a cutover, make SQLite the primary again (PostgreSQL's writes carried back).
    /// Before any cutover, `--run ID` removes exactly the objects that run created.
    Rollback {
        /// The SQLite database file being synced.
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Remove the tables, views, schema and extension this migrate run created.
        #[arg(long)]
        run: Option<String>,
        /// Undo and leave PostgreSQL primary if writers would be frozen longer (seconds).
        #[arg(long, default_value_t = 5.0)]
        max_freeze: f64,
        /// What to verify during the freeze.
        #[arg(long, value_enum, default_value_t = VerifyScope::Touched)]
        verify: VerifyScope,
        /// Readable summary, or JSON.
        #[arg(long, value_enum, default_value_t = VerifyFormatArg::Text)]
        format: VerifyFormatArg,
    },
    /// End the dual-write period: remove every capture trigger, change log and state table
    /// from both sides.
    Finish {
        /// The SQLite database file being synced.
        db: PathBuf,
        /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        to: Option<String>,
        /// Target schema in PostgreSQL.
        #[arg(long, default_value = "public")]
        schema: String,
    },
    /// Build a sample SQLite database with messy data and rehearse its migration on a
    /// throwaway PostgreSQL.
    Demo {
        /// Keep the sample database at this path.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Also write the run report here; .json or .md.
        #[arg(long)]
        report: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Sql,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VerifyFormatArg {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VerifyScope {
    Touched,
    Full,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum IdentArg {
    Lower,
    Preserve,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConflictArg {
    Widen,
    Reject,
}

/// A validated request for the library.
pub enum Request {
    /// `lite2pg plan`.
    Plan(PlanRequest),
    /// `lite2pg migrate`.
    Migrate(Box<MigrateRequest>),
    /// `lite2pg verify`.
    Verify(Box<VerifyRequest>),
    /// `lite2pg demo`.
    Demo(DemoRequest),
    /// `lite2pg sync`.
    Sync(Box<SyncRequest>),
    /// `lite2pg status`.
    Status(StatusRequest),
    /// `lite2pg cutover`.
    Cutover(Box<SwitchRequest>),
    /// `lite2pg rollback`.
    Rollback(Box<SwitchRequest>),
    /// `lite2pg rollback --run ID`.
    RollbackRun(TargetChoice, String),
    /// `lite2pg finish`.
    Finish(FinishRequest),
}

fn live_target(to: Option<String>) -> TargetChoice {
    match to {
        Some(u) => TargetChoice::Url(u),
        None => TargetChoice::Env,
    }
}

fn freeze(seconds: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(if seconds.is_finite() && seconds > 0.0 {
        seconds.min(86_400.0)
    } else {
        0.001
    })
}

fn options(schema: String, identifiers: IdentArg, type_conflicts: ConflictArg) -> PlanOptions {
    PlanOptions {
        schema,
        identifiers: match identifiers {
            IdentArg::Lower => IdentPolicy::Lower,
            IdentArg::Preserve => IdentPolicy::Preserve,
        },
        type_conflicts: match type_conflicts {
            ConflictArg::Widen => TypeConflicts::Widen,
            ConflictArg::Reject => TypeConflicts::Reject,
        },
    }
}

fn format(f: FormatArg) -> Format {
    match f {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Sql => Format::Sql,
    }
}

/// Parses the command line (exits 2 with usage on error, as clap does).
pub fn parse() -> Request {
    match Cli::parse().command {
        Cmd::Plan {
            db,
            format: f,
            identifiers,
            type_conflicts,
            schema,
            to,
            no_check,
            output,
        } => {
            let check = match (no_check, to) {
                (true, _) => Check::Off,
                (false, Some(url)) => Check::Url(url),
                (false, None) => Check::Local,
            };
            Request::Plan(PlanRequest {
                source: db,
                format: format(f),
                options: options(schema, identifiers, type_conflicts),
                check,
                output,
            })
        }
        Cmd::Migrate {
            db,
            to,
            schema,
            jobs,
            tables,
            exclude,
            schema_only,
            data_only,
            resume,
            replace,
            no_verify,
            reject_file,
            report,
            quiet,
            stall_timeout,
            identifiers,
            type_conflicts,
        } => Request::Migrate(Box::new(MigrateRequest {
            source: db,
            target: TargetChoice::from(to),
            options: options(schema, identifiers, type_conflicts),
            jobs: jobs.filter(|j| *j > 0).unwrap_or_else(default_jobs),
            tables,
            exclude,
            mode: match (schema_only, data_only) {
                (true, _) => Mode::SchemaOnly,
                (_, true) => Mode::DataOnly,
                _ => Mode::All,
            },
            resume,
            replace,
            verify: !no_verify,
            reject_file,
            reports: report,
            quiet,
            stall_timeout: std::time::Duration::from_secs(stall_timeout.max(1)),
            source_copy: None,
        })),
        Cmd::Verify {
            db,
            to,
            schema,
            tables,
            exclude,
            report,
            format,
            jobs,
            sample,
            max_mismatches,
            stall_timeout,
        } => Request::Verify(Box::new(VerifyRequest {
            source: db,
            target: TargetChoice::from(to),
            schema,
            tables,
            exclude,
            reports: report,
            output: match format {
                VerifyFormatArg::Text => Output::Text,
                VerifyFormatArg::Json => Output::Json,
            },
            options: lite2pg::verify::Options {
                jobs: jobs.filter(|j| *j > 0).unwrap_or_else(default_jobs),
                sample,
                max_mismatches,
                pending: None,
                only_keys: None,
                schema_check: true,
            },
            stall_timeout: std::time::Duration::from_secs(stall_timeout.max(1)),
        })),
        Cmd::Sync {
            db,
            to,
            schema,
            interval,
            once,
            replace,
            jobs,
            quiet,
            stall_timeout,
            identifiers,
            type_conflicts,
        } => Request::Sync(Box::new(SyncRequest {
            source: db,
            target: live_target(to),
            options: options(schema, identifiers, type_conflicts),
            interval: std::time::Duration::from_millis(interval.max(1)),
            once,
            replace,
            jobs: jobs.filter(|j| *j > 0).unwrap_or_else(default_jobs),
            quiet,
            stall_timeout: std::time::Duration::from_secs(stall_timeout.max(1)),
        })),
        Cmd::Status {
            db,
            to,
            schema,
            format,
        } => Request::Status(StatusRequest {
            source: db,
            target: live_target(to),
            schema,
            json: matches!(format, VerifyFormatArg::Json),
        }),
        Cmd::Cutover {
            db,
            to,
            schema,
            max_freeze,
            verify,
            allow_orphans,
            format,
        } => Request::Cutover(Box::new(SwitchRequest {
            source: db,
            target: live_target(to),
            schema,
            max_freeze: freeze(max_freeze),
            verify_full: matches!(verify, VerifyScope::Full),
            allow_orphans,
            json: matches!(format, VerifyFormatArg::Json),
        })),
        Cmd::Rollback {
            db,
            to,
            schema,
            run,
            max_freeze,
            verify,
            format,
        } => match run {
            Some(run) => Request::RollbackRun(live_target(to), run),
            None => Request::Rollback(Box::new(SwitchRequest {
                source: db,
                target: live_target(to),
                schema,
                max_freeze: freeze(max_freeze),
                verify_full: matches!(verify, VerifyScope::Full),
                allow_orphans: true,
                json: matches!(format, VerifyFormatArg::Json),
            })),
        },
        Cmd::Finish { db, to, schema } => Request::Finish(FinishRequest {
            source: db,
            target: live_target(to),
            schema,
        }),
        Cmd::Demo { keep, report } => Request::Demo(DemoRequest {
            keep,
            reports: report,
        }),
    }
}
