//! Command-line definitions (clap) and their conversion into validated library requests.
//! This is the only file that knows about clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use lite2pg::commands::{Check, DemoRequest, Format, PlanRequest};
use lite2pg::plan::PlanOptions;
use lite2pg::translate::names::IdentPolicy;
use lite2pg::translate::types::TypeConflicts;

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
    /// Build a sample SQLite database with messy data and plan it against a throwaway server.
    Demo {
        /// Keep the sample database at this path.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Output format of the plan.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Sql,
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
    /// `lite2pg demo`.
    Demo(DemoRequest),
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
                options: PlanOptions {
                    schema,
                    identifiers: match identifiers {
                        IdentArg::Lower => IdentPolicy::Lower,
                        IdentArg::Preserve => IdentPolicy::Preserve,
                    },
                    type_conflicts: match type_conflicts {
                        ConflictArg::Widen => TypeConflicts::Widen,
                        ConflictArg::Reject => TypeConflicts::Reject,
                    },
                },
                check,
                output,
            })
        }
        Cmd::Demo { keep, format: f } => Request::Demo(DemoRequest {
            keep,
            format: format(f),
        }),
    }
}
