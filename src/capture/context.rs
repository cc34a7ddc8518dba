//! The shared state of the dual-write period: what every capture command (`sync`,
//! `status`, `cutover`, `rollback`, `finish`) reads before it acts. `Ctx` holds the
//! target, the plan the synced tables were made by, how each table is applied and which side
//! is the primary; the functions here read and lock the state row in the control schema
//! (`lite2pg.sync_state`) and open the live SQLite file.

use std::path::{Path, PathBuf};

use super::forward::Forward;
use super::reverse::Reverse;
use super::spec;
use super::sqlite_log as cap;
use super::Side;
use crate::error::{Error, Result};
pub(crate) use crate::pg::control::{connect_to_control, control_schema_exists};
use crate::pg::{connect_target, quote_ident, Client, Target};
use crate::plan::{PgType, Plan, SourceForm};

/// The state row's values sync needs.
pub(crate) struct State {
    pub run_id: Option<String>,
    pub digest: String,
    pub primary: Side,
    /// The last SQLite change applied forward.
    pub applied_seq: i64,
}

pub(crate) fn load_state(client: &Client, schema: &str) -> Result<Option<State>> {
    if !control_schema_exists(client)? {
        return Ok(None);
    }
    let rows = client.query(
        "reading the sync state",
        "SELECT run_id::text, schema_digest, primary_side, applied_seq FROM lite2pg.sync_state \
         WHERE target_schema = $1",
        &[&schema],
    )?;
    rows.first()
        .map(|r| {
            Ok(State {
                run_id: r.get(0),
                digest: r.get(1),
                primary: Side::parse(r.get(2))?,
                applied_seq: r.get(3),
            })
        })
        .transpose()
}

/// Takes the session lock that lets one `sync` at a time apply into `schema`.
pub(crate) fn lock_sync(client: &Client, schema: &str) -> Result<()> {
    let got: bool = client
        .query(
            "taking the sync lock",
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&format!("lite2pg-sync:{schema}")],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if !got {
        return Err(Error::Usage(format!(
            "another `lite2pg sync` is applying into schema {} of {}; stop it first (it stops \
             cleanly on SIGINT or SIGTERM)",
            quote_ident(schema),
            client.target()
        )));
    }
    Ok(())
}

/// The plan run `run_id` applied, with the copier's types restored from their SQL.
pub(crate) fn recorded_plan(client: &Client, run_id: &str) -> Result<Plan> {
    let rows = client.query(
        "reading the migration's plan",
        "SELECT plan FROM lite2pg.runs WHERE id::text = $1 AND status = 'done'",
        &[&run_id],
    )?;
    let json: Option<serde_json::Value> = rows.first().and_then(|r| r.get(0));
    let json = json.ok_or_else(|| {
        Error::Refused(format!(
            "run {run_id}, the migration sync started from, has no finished plan in \
             lite2pg.runs: migrate again under capture with `lite2pg sync --replace`"
        ))
    })?;
    let mut plan: Plan = serde_json::from_value(json).map_err(|e| {
        Error::Refused(format!(
            "the plan stored by run {run_id} cannot be read: {e}"
        ))
    })?;
    // An adopted schema's types (enums among them) are the catalog's.
    let catalog = if plan.adopted {
        crate::pg::catalog::tables(client, &plan.options.schema)?
    } else {
        Default::default()
    };
    for t in &mut plan.tables {
        for c in &mut t.columns {
            let from_catalog = || {
                catalog
                    .get(&t.target)?
                    .columns
                    .iter()
                    .find(|k| k.name == c.target)
                    .and_then(PgType::from_catalog)
            };
            let known = PgType::from_sql(&c.pg_type).or_else(from_catalog);
            // Sync never reads or writes a generated column (an FTS table's `tsvector`
            // among them): its type needs no codec.
            if c.generated && known.is_none() {
                continue;
            }
            c.ty = known.ok_or_else(|| {
                Error::Refused(format!(
                    "the plan stored by run {run_id} gives column {}.{} a type sync does not \
                     know ({})",
                    quote_ident(&t.target),
                    quote_ident(&c.target),
                    c.pg_type
                ))
            })?;
        }
    }
    Ok(plan)
}

/// Opens the live SQLite file to write lite2pg's own objects (triggers, the log).
pub(crate) fn open_writable(path: &Path) -> Result<rusqlite::Connection> {
    crate::sqlite::open::open_live(path, false)
}

pub(crate) fn sqlite_err<'a>(path: &'a Path, what: &str) -> impl Fn(rusqlite::Error) -> Error + 'a {
    let what = what.to_string();
    move |e| crate::sqlite::open::classify_in(path, &what, &e)
}

/// What every command of the dual-write period works from: the target, the plan the synced
/// tables were made by, and how each table is applied.
pub(crate) struct Ctx {
    /// The target server.
    pub target: Target,
    /// The live SQLite file.
    pub source: PathBuf,
    /// Target schema.
    pub schema_name: String,
    /// The migration's plan.
    pub plan: Plan,
    /// How each table is applied.
    pub specs: Vec<spec::TableSpec>,
    /// Tables whose changes cannot be captured (virtual tables), compared whole at switches.
    pub unsynced: Vec<String>,
    /// The captured schema's digest.
    pub digest: String,
    /// Which side the application writes to.
    pub primary: Side,
    /// SQLite's capture of the synced tables (what triggers log).
    capture: Vec<cap::CaptureTable>,
}

impl Ctx {
    /// Reads the state of `schema_name` and the plan it was migrated by.
    pub fn load(target: Target, source: &Path, schema_name: &str) -> Result<(Ctx, Client)> {
        let client = connect_target(&target)?;
        let state = load_state(&client, schema_name)?.ok_or_else(|| {
            Error::Usage(format!(
                "schema {} is not being synced: start with `lite2pg sync {} --to URL`",
                quote_ident(schema_name),
                source.display()
            ))
        })?;
        let run_id = state.run_id.ok_or_else(|| {
            Error::Usage(format!(
                "the initial migration of schema {} under sync has not finished: run `lite2pg \
                 sync` until it has",
                quote_ident(schema_name)
            ))
        })?;
        let plan = recorded_plan(&client, &run_id)?;
        let src = crate::sqlite::open_source(source)?;
        let schema = crate::sqlite::introspect::introspect(&src)?;
        drop(src);
        let spec::Specs { specs, unsynced } = spec::specs(&plan, &schema)?;
        let synced: std::collections::HashSet<&str> =
            specs.iter().map(|s| s.source.as_str()).collect();
        let capture = spec::capture_tables(&schema)
            .into_iter()
            .filter(|t| synced.contains(t.name.as_str()))
            .collect();
        Ok((
            Ctx {
                target,
                source: source.to_path_buf(),
                schema_name: schema_name.to_string(),
                plan,
                specs,
                unsynced,
                digest: state.digest,
                primary: state.primary,
                capture,
            },
            client,
        ))
    }

    /// A forward applier (SQLite → PostgreSQL) on a connection of its own.
    pub fn forward(&self) -> Result<Forward> {
        let client = connect_target(&self.target)?;
        let reader = crate::sqlite::open::open_live(&self.source, true)?;
        Forward::new(
            client,
            reader,
            &self.schema_name,
            self.specs.clone(),
            self.digest.clone(),
        )
    }

    /// A reverse applier (PostgreSQL → SQLite) on a connection of its own.
    pub fn reverse(&self) -> Result<Reverse> {
        let client = connect_target(&self.target)?;
        let writer = open_writable(&self.source)?;
        // How the application stored each column in SQLite: recorded for an adopted schema,
        // implied by the type otherwise (but UUIDs kept as blobs).
        let forms = self
            .plan
            .tables
            .iter()
            .flat_map(|t| {
                t.columns.iter().filter_map(move |c| {
                    let form = c.source_form.or_else(|| {
                        (c.ty == PgType::Uuid && c.storage.blob > c.storage.text)
                            .then_some(SourceForm::UuidBlob)
                    })?;
                    Some(((t.target.clone(), c.target.clone()), form))
                })
            })
            .collect();
        Reverse::new(
            client,
            writer,
            &self.schema_name,
            self.specs.clone(),
            &forms,
        )
    }

    /// SQLite's capture of the synced tables.
    pub fn capture_tables(&self) -> &[cap::CaptureTable] {
        &self.capture
    }
}
