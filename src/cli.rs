//! Command-line definitions (clap) and their conversion into validated library requests.
//! This is the only file that knows about clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use lite2pg::capture::finish::FinishRequest;
use lite2pg::capture::journal::LogFormat;
use lite2pg::capture::status::{StatusFormat, StatusRequest};
use lite2pg::capture::switch::SwitchRequest;
use lite2pg::capture::sync::SyncRequest;
use lite2pg::copy::CHUNK_ROWS;
use lite2pg::demo::DemoRequest;
use lite2pg::migrate::{default_jobs, MigrateRequest, Mode};
use lite2pg::model::frameworks::Framework;
use lite2pg::pg::TargetChoice;
use lite2pg::plan::{IdentPolicy, InvalidText, PlanOptions, SourceZone, TypeConflicts};
use lite2pg::translate::{Check, Format, PlanRequest};
use lite2pg::verify::{Output, VerifyRequest};

/// lite2pg: move a live SQLite database into PostgreSQL without losing a value.
#[derive(Debug, Parser)]
#[command(name = "lite2pg", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// The SQLite file, the target server and the target schema: every command but `demo`.
#[derive(Debug, Args)]
struct Target {
    /// The SQLite database file.
    db: PathBuf,
    /// Target server (libpq URL or key/value); PG* variables and ~/.pgpass are honoured.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    to: Option<String>,
    /// Target schema in PostgreSQL.
    #[arg(long, default_value = "public")]
    schema: String,
}

/// How the translator names and types what it plans.
#[derive(Debug, Args)]
struct Translation {
    /// Lower-case plain names so unquoted SQL keeps working, or keep every name as written.
    #[arg(long, value_enum, default_value_t = IdentArg::Lower)]
    identifiers: IdentArg,
    /// For columns holding several storage classes: a type that holds them all, or the
    /// majority's type with the rest rejected.
    #[arg(long = "type-conflicts", value_enum, default_value_t = ConflictArg::Widen)]
    type_conflicts: ConflictArg,
    /// The application's framework, where the database's bookkeeping tables do not show
    /// it (SQLAlchemy with `create_all()` keeps none): --data-only then reads decimals as
    /// that framework reads them from SQLite (docs/frameworks.md).
    #[arg(long, value_enum)]
    framework: Option<FrameworkArg>,
    /// Text PostgreSQL cannot hold (a NUL byte, invalid UTF-8): reject its row (the
    /// default), carry the column as bytea, or carry the value cleaned (NUL removed,
    /// invalid bytes replaced by U+FFFD), each cleaned value listed in the reject file.
    #[arg(long, value_enum, default_value_t = InvalidTextArg::Reject)]
    invalid_text: InvalidTextArg,
}

/// `--invalid-text`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum InvalidTextArg {
    Reject,
    Bytea,
    Clean,
}

/// `--framework`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FrameworkArg {
    Django,
    Rails,
    Sqlalchemy,
    Alembic,
    Prisma,
    Laravel,
    Ecto,
    Knex,
    Sequelize,
    Typeorm,
    Drizzle,
}

impl From<FrameworkArg> for Framework {
    fn from(f: FrameworkArg) -> Framework {
        match f {
            FrameworkArg::Django => Framework::Django,
            FrameworkArg::Rails => Framework::Rails,
            FrameworkArg::Sqlalchemy => Framework::SqlAlchemy,
            FrameworkArg::Alembic => Framework::Alembic,
            FrameworkArg::Prisma => Framework::Prisma,
            FrameworkArg::Laravel => Framework::Laravel,
            FrameworkArg::Ecto => Framework::Ecto,
            FrameworkArg::Knex => Framework::Knex,
            FrameworkArg::Sequelize => Framework::Sequelize,
            FrameworkArg::Typeorm => Framework::TypeOrm,
            FrameworkArg::Drizzle => Framework::Drizzle,
        }
    }
}

/// Parallelism, patience and progress of a run that copies or reads every row.
#[derive(Debug, Args)]
struct Running {
    /// Parallel COPY streams, index builds or readers (default: the number of cores).
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Give up (exit 3, resumable) when the server answers no ping for this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: u64,
}

/// Which tables a run takes.
#[derive(Debug, Args)]
struct Selection {
    /// Only these tables (SQLite names; globs with * and ?, comma-separated).
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,
    /// Leave out these tables (globs, comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
}

/// A switch's freeze and verification (cutover and rollback).
#[derive(Debug, Args)]
struct Switching {
    /// Undo and keep the current primary if writers would be frozen longer (seconds,
    /// more than 0 and at most 86400).
    #[arg(long, default_value_t = 5.0, value_parser = max_freeze)]
    max_freeze: f64,
    /// What to verify during the freeze: the tables written since the last
    /// verification, or every table.
    #[arg(long, value_enum, default_value_t = VerifyScope::Touched)]
    verify: VerifyScope,
    /// Readable summary, or JSON.
    #[arg(long, value_enum, default_value_t = VerifyFormatArg::Text)]
    format: VerifyFormatArg,
    /// Benchmarks only: skip the drain and verification before the freeze, so the freeze
    /// does all of it (the worst case).
    #[arg(long, hide = true)]
    no_predrain: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Read a SQLite file, profile its data, and print the PostgreSQL DDL and every decision.
    Plan {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        translation: Translation,
        /// Output: readable summary, JSON (docs/plan-format.md) or runnable SQL.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Do not test-apply the DDL (by default it is test-applied, rolled back, on --to or
        /// a throwaway local server).
        #[arg(long)]
        no_check: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Move a SQLite database into PostgreSQL: schema, data by binary COPY, keys, indexes,
    /// foreign keys, sequences, then verification. With no target (no --to, DATABASE_URL
    /// or PG*): a rehearsal on a throwaway local PostgreSQL.
    Migrate {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        translation: Translation,
        #[command(flatten)]
        running: Running,
        #[command(flatten)]
        selection: Selection,
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
        /// With --data-only: how date-times stored without an offset are read into
        /// timestamptz columns: UTC (the default, what Django and Rails store), a fixed
        /// offset such as +02:00, or a named zone such as Europe/Berlin.
        #[arg(long, default_value = "UTC", value_parser = SourceZone::parse)]
        source_timezone: SourceZone,
        /// With --data-only: empty target tables that already hold rows before loading
        /// (those rows are lost). Tables the framework fills itself when it makes its schema
        /// (Django's content types and permissions) are replaced without it.
        #[arg(long, requires = "data_only")]
        truncate: bool,
        /// Tests only: rows per COPY chunk, to make many chunks of a small table.
        #[arg(long, hide = true, env = "LITE2PG_CHUNK_ROWS", value_parser = clap::value_parser!(u64).range(1..))]
        chunk_rows: Option<u64>,
    },
    /// Prove every migrated row equals its SQLite source: range digests (sha256) on both
    /// sides, differing ranges compared row by row; plus the schema against the plan.
    /// Exit 0 all match, 1 differences, 2 usage or input, 3 connection.
    Verify {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        running: Running,
        #[command(flatten)]
        selection: Selection,
        /// Also write the report here; .json, .md or .html (may be given several times).
        #[arg(long)]
        report: Vec<PathBuf>,
        /// Standard output: readable summary, or the JSON report (docs/report-format.md).
        #[arg(long, value_enum, default_value_t = VerifyFormatArg::Text)]
        format: VerifyFormatArg,
        /// Compare only this fraction of rows, more than 0 and at most 1 (chosen by key
        /// hash, the same on both sides).
        #[arg(long, default_value_t = 1.0, value_parser = sample)]
        sample: f64,
        /// Differing rows listed per table (all are counted).
        #[arg(long, default_value_t = 1000)]
        max_mismatches: usize,
    },
    /// Keep PostgreSQL in step with a live SQLite file: arm change capture, migrate under it
    /// if the target has no synced copy yet, then apply every change until SIGINT/SIGTERM.
    Sync {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        translation: Translation,
        #[command(flatten)]
        running: Running,
        /// Milliseconds between polls of an empty change log.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
        interval: u64,
        /// Stop once every logged change is applied.
        #[arg(long)]
        once: bool,
        /// Migrate again under capture, dropping tables of the same names first.
        #[arg(long)]
        replace: bool,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
        /// Load into the tables the application's framework made (see migrate
        /// --data-only); --replace then empties them instead of dropping them.
        #[arg(long)]
        data_only: bool,
        /// With --data-only: how date-times stored without an offset are read (UTC, a
        /// fixed offset such as +02:00, or a named zone such as Europe/Berlin).
        #[arg(long, default_value = "UTC", value_parser = SourceZone::parse)]
        source_timezone: SourceZone,
        /// After a lost connection (a restart, a failover), keep reconnecting this long
        /// before giving up with exit 3: 90s, 30m, 2h (default: as long as the SQLite file
        /// is there).
        #[arg(long, value_parser = duration)]
        retry_for: Option<Duration>,
        /// A line per applied batch, besides the periodic summary.
        #[arg(long, short)]
        verbose: bool,
        /// How often the summary line (changes, rows, lag p50/p99) is written: 60s, 5m.
        #[arg(long, default_value = "60s", value_parser = duration)]
        status_interval: Duration,
        /// How long applied changes stay in SQLite's change log: after a failover, the
        /// promoted standby may lack the last of them, and they are applied again (10m, 1h).
        #[arg(long, default_value = "10m", value_parser = duration)]
        log_retention: Duration,
        /// Log lines as readable text, or as JSON lines for a log shipper.
        #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
        log_format: LogFormatArg,
        /// Append the log to this file instead of standard error; SIGHUP reopens it (for
        /// logrotate).
        #[arg(long)]
        log_file: Option<PathBuf>,
        /// Benchmarks only: append each applied change's age at commit (seconds) here.
        #[arg(long, hide = true, env = "LITE2PG_LAG_FILE")]
        lag_file: Option<PathBuf>,
    },
    /// Show the dual-write state: primary, direction, pending changes, lag, errors.
    Status {
        #[command(flatten)]
        target: Target,
        /// Readable summary, JSON, or Prometheus' text format (for a textfile collector or a
        /// cron job that alerts on lag).
        #[arg(long, value_enum, default_value_t = StatusFormatArg::Text)]
        format: StatusFormatArg,
    },
    /// Make PostgreSQL the primary: freeze SQLite's writers, drain, verify, set sequences,
    /// capture PostgreSQL's changes, guard SQLite against writes, release.
    Cutover {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        switching: Switching,
        /// Switch even when rows reference missing parents (SQLite let them in).
        #[arg(long)]
        allow_orphans: bool,
    },
    /// After a cutover, make SQLite the primary again (PostgreSQL's writes carried back).
    /// Before any cutover, `--run ID` removes exactly the objects that run created.
    Rollback {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        switching: Switching,
        /// Remove the tables, views, schema and extension this migrate run created.
        #[arg(long)]
        run: Option<String>,
    },
    /// End the dual-write period: remove every capture trigger, change log and state table
    /// from both sides.
    Finish {
        #[command(flatten)]
        target: Target,
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

impl From<VerifyFormatArg> for Output {
    fn from(f: VerifyFormatArg) -> Output {
        match f {
            VerifyFormatArg::Text => Output::Text,
            VerifyFormatArg::Json => Output::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusFormatArg {
    Text,
    Json,
    Prometheus,
}

/// `sync --log-format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    /// `lite2pg: …` lines.
    Text,
    /// One JSON object per line: ts, level, event, message and the event's figures.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> LogFormat {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

impl From<StatusFormatArg> for StatusFormat {
    fn from(f: StatusFormatArg) -> StatusFormat {
        match f {
            StatusFormatArg::Text => StatusFormat::Text,
            StatusFormatArg::Json => StatusFormat::Json,
            StatusFormatArg::Prometheus => StatusFormat::Prometheus,
        }
    }
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

/// `--retry-for`: seconds, or a number with `s`, `m` or `h`.
fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (90s, 30m, 2h)"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{s}`: the unit is s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`{s}` must be more than 0"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--sample`: a fraction in (0, 1].
fn sample(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "{s} is outside (0, 1]: give a fraction such as 0.1, or 1 for every row"
        ))
    }
}

/// `--max-freeze`: seconds in (0, 86400].
fn max_freeze(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(v)
    } else {
        Err(format!("{s} is outside (0, 86400] seconds"))
    }
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

impl Target {
    /// A live target: `--to`/`DATABASE_URL`, else the `PG*` variables (never a rehearsal).
    fn live(&self) -> TargetChoice {
        match &self.to {
            Some(u) => TargetChoice::Url(u.clone()),
            None => TargetChoice::Env,
        }
    }
}

impl Translation {
    fn options(&self, schema: &str) -> PlanOptions {
        PlanOptions {
            schema: schema.to_string(),
            identifiers: match self.identifiers {
                IdentArg::Lower => IdentPolicy::Lower,
                IdentArg::Preserve => IdentPolicy::Preserve,
            },
            type_conflicts: match self.type_conflicts {
                ConflictArg::Widen => TypeConflicts::Widen,
                ConflictArg::Reject => TypeConflicts::Reject,
            },
            framework: self.framework.map(Framework::from),
            invalid_text: match self.invalid_text {
                InvalidTextArg::Reject => InvalidText::Reject,
                InvalidTextArg::Bytea => InvalidText::Bytea,
                InvalidTextArg::Clean => InvalidText::Clean,
            },
        }
    }
}

impl Running {
    fn jobs(&self) -> usize {
        self.jobs.map(|j| j as usize).unwrap_or_else(default_jobs)
    }

    fn stall_timeout(&self) -> Duration {
        Duration::from_secs(self.stall_timeout)
    }
}

impl Switching {
    fn request(&self, target: &Target, allow_orphans: bool) -> SwitchRequest {
        SwitchRequest {
            source: target.db.clone(),
            target: target.live(),
            schema: target.schema.clone(),
            max_freeze: Duration::from_secs_f64(self.max_freeze),
            verify_full: matches!(self.verify, VerifyScope::Full),
            allow_orphans,
            json: matches!(self.format, VerifyFormatArg::Json),
            predrain: !self.no_predrain,
        }
    }
}

/// Parses the command line (exits 2 with usage on error, as clap does).
/// Length: one arm per command, each moving the parsed flags into its request field by
/// field; splitting it would only move the match elsewhere.
pub fn parse() -> Request {
    match Cli::parse().command {
        Cmd::Plan {
            target,
            translation,
            format,
            no_check,
            output,
        } => Request::Plan(PlanRequest {
            options: translation.options(&target.schema),
            check: match (no_check, target.to) {
                (true, _) => Check::Off,
                (false, Some(url)) => Check::Url(url),
                (false, None) => Check::Local,
            },
            source: target.db,
            format: match format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
                FormatArg::Sql => Format::Sql,
            },
            output,
        }),
        Cmd::Migrate {
            target,
            translation,
            running,
            selection,
            schema_only,
            data_only,
            resume,
            replace,
            no_verify,
            reject_file,
            report,
            quiet,
            source_timezone,
            truncate,
            chunk_rows,
        } => Request::Migrate(Box::new(MigrateRequest {
            options: translation.options(&target.schema),
            source: target.db,
            target: TargetChoice::from(target.to),
            jobs: running.jobs(),
            tables: selection.tables,
            exclude: selection.exclude,
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
            stall_timeout: running.stall_timeout(),
            source_copy: None,
            chunk_rows: chunk_rows.unwrap_or(CHUNK_ROWS),
            source_zone: source_timezone,
            truncate,
        })),
        Cmd::Verify {
            target,
            running,
            selection,
            report,
            format,
            sample,
            max_mismatches,
        } => Request::Verify(Box::new(VerifyRequest {
            source: target.db,
            target: TargetChoice::from(target.to),
            schema: target.schema,
            tables: selection.tables,
            exclude: selection.exclude,
            reports: report,
            output: format.into(),
            options: lite2pg::verify::Options {
                jobs: running.jobs(),
                sample,
                max_mismatches,
                pending: None,
                only_keys: None,
                schema_check: true,
                fused: None,
            },
            stall_timeout: running.stall_timeout(),
        })),
        Cmd::Sync {
            target,
            translation,
            running,
            interval,
            once,
            replace,
            quiet,
            data_only,
            source_timezone,
            retry_for,
            verbose,
            status_interval,
            log_retention,
            log_format,
            log_file,
            lag_file,
        } => Request::Sync(Box::new(SyncRequest {
            options: translation.options(&target.schema),
            target: target.live(),
            source: target.db,
            interval: Duration::from_millis(interval),
            once,
            replace,
            jobs: running.jobs(),
            quiet,
            stall_timeout: running.stall_timeout(),
            lag_file,
            data_only,
            source_zone: source_timezone,
            retry_for,
            verbose,
            status_interval,
            log_format: log_format.into(),
            log_file,
            log_retention,
        })),
        Cmd::Status { target, format } => Request::Status(StatusRequest {
            target: target.live(),
            source: target.db,
            schema: target.schema,
            format: format.into(),
        }),
        Cmd::Cutover {
            target,
            switching,
            allow_orphans,
        } => Request::Cutover(Box::new(switching.request(&target, allow_orphans))),
        Cmd::Rollback {
            target,
            switching,
            run,
        } => match run {
            Some(run) => Request::RollbackRun(target.live(), run),
            None => Request::Rollback(Box::new(switching.request(&target, true))),
        },
        Cmd::Finish { target } => Request::Finish(FinishRequest {
            target: target.live(),
            source: target.db,
            schema: target.schema,
        }),
        Cmd::Demo { keep, report } => Request::Demo(DemoRequest {
            keep,
            reports: report,
        }),
    }
}
