//! The control schema `lite2pg` in the target: runs, objects created, chunk progress and
//! rejects (DESIGN.md rule 5). Created and upgraded by the refinery migrations embedded from
//! `migrations/`.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;
use uuid::Uuid;

use super::{Client, TargetChoice};
use crate::error::{Error, Result};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Whether the target holds lite2pg's control schema (with the sync tables).
pub fn control_schema_exists(client: &Client) -> Result<bool> {
    Ok(client
        .query(
            "looking for lite2pg's control schema",
            "SELECT to_regclass('lite2pg.sync_state') IS NOT NULL",
            &[],
        )?
        .first()
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false))
}

/// Whether `sync` follows `target_schema` with SQLite as the primary: the application's
/// triggers then act in SQLite, and PostgreSQL's translated ones stay disarmed.
pub fn sqlite_is_primary(client: &Client, target_schema: &str) -> Result<bool> {
    Ok(client
        .query(
            "reading which side is the primary",
            "SELECT to_regclass('lite2pg.sync_state') IS NOT NULL AND EXISTS (\
             SELECT 1 FROM lite2pg.sync_state WHERE target_schema = $1 \
             AND primary_side = 'sqlite')",
            &[&target_schema],
        )?
        .first()
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false))
}

/// A connection to a target that has lite2pg's control schema (else a usage error ending
/// with `otherwise`, which says what that means for the command).
pub fn connect_to_control(target: &TargetChoice, otherwise: &str) -> Result<Client> {
    let client = super::connect_target(&target.require("this command")?)?;
    if !control_schema_exists(&client)? {
        return Err(Error::Usage(format!(
            "{} has no lite2pg control schema: {otherwise}",
            client.target()
        )));
    }
    Ok(client)
}

/// Name of the control schema.
pub const SCHEMA: &str = "lite2pg";

/// Takes the per-schema run lock and creates or upgrades the control schema.
///
/// The lock is a session advisory lock: it is held until `client` disconnects, so a killed
/// run releases it with its connection and a second run refuses at once, naming the first.
pub fn lock_and_prepare(client: &mut Client, target_schema: &str) -> Result<()> {
    let key = format!("lite2pg:{target_schema}");
    let got: bool = client
        .query(
            "taking the run lock",
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&key],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if !got {
        let who = client
            .query(
                "finding the run holding the lock",
                "SELECT id::text, host, pid, started_at::text FROM lite2pg.runs \
                 WHERE target_schema = $1 AND status = 'running' ORDER BY started_at DESC LIMIT 1",
                &[&target_schema],
            )
            .ok()
            .and_then(|rows| {
                rows.first().map(|r| {
                    format!(
                        "run {} (started {} by pid {} on {})",
                        r.get::<_, String>(0),
                        r.get::<_, String>(3),
                        r.get::<_, i32>(2),
                        r.get::<_, String>(1)
                    )
                })
            })
            .unwrap_or_else(|| "another lite2pg run".into());
        return Err(Error::Usage(format!(
            "{who} is migrating into schema {} of {} right now; wait for it to finish or stop it",
            super::quote_ident(target_schema),
            client.target()
        )));
    }
    prepare(client)
}

/// Creates or upgrades the control schema (refinery migrations), one process at a time.
pub fn prepare(client: &mut Client) -> Result<()> {
    // Runs into other schemas of the same database may upgrade the control schema at the
    // same moment: one at a time.
    client.batch_execute(
        "creating the control schema lite2pg",
        "SELECT pg_advisory_lock(hashtextextended('lite2pg:control-schema', 0)); \
         CREATE SCHEMA IF NOT EXISTS lite2pg",
    )?;
    let target = client.target().to_string();
    let migrated = client
        .with(|c| async move {
            let mut runner = embedded::migrations::runner();
            runner.set_migration_table_name("lite2pg.refinery_schema_history");
            runner.run_async(c).await.map(|_| ())
        })
        .map_err(|e| Error::Postgres {
            context: format!("creating or upgrading the control schema lite2pg in {target}"),
            message: e.to_string(),
            sqlstate: None,
        });
    client.batch_execute(
        "releasing the control-schema lock",
        "SELECT pg_advisory_unlock(hashtextextended('lite2pg:control-schema', 0))",
    )?;
    migrated
}

/// Drops the control schema and everything in it (`finish`, when nothing else of lite2pg's
/// is left in the database).
pub fn drop_control_schema(client: &mut Client) -> Result<()> {
    client.batch_execute(
        "removing the control schema lite2pg",
        "DROP SCHEMA IF EXISTS lite2pg CASCADE",
    )
}

/// An unfinished run found in the control schema.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Run id.
    pub id: Uuid,
    /// Source file as given then.
    pub source: String,
    /// Status.
    pub status: String,
    /// Last phase entered.
    pub phase: String,
    /// Start time, as text.
    pub started_at: String,
}

/// The newest run into `target_schema` that did not finish.
pub fn unfinished_run(client: &Client, target_schema: &str) -> Result<Option<RunRow>> {
    let rows = client.query(
        "looking for an unfinished run",
        "SELECT id, source, status, phase, started_at::text FROM lite2pg.runs \
         WHERE target_schema = $1 AND status <> 'done' ORDER BY started_at DESC LIMIT 1",
        &[&target_schema],
    )?;
    Ok(rows.first().map(|r| RunRow {
        id: r.get(0),
        source: r.get(1),
        status: r.get(2),
        phase: r.get(3),
        started_at: r.get(4),
    }))
}

/// Records a new run.
pub fn start_run(
    client: &Client,
    id: Uuid,
    source: &str,
    target_schema: &str,
    options: &Json,
) -> Result<()> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let pid = std::process::id() as i32;
    client.query(
        "recording the run",
        "INSERT INTO lite2pg.runs (id, source, target_schema, status, phase, options, host, pid) \
         VALUES ($1, $2, $3, 'running', 'schema', $4, $5, $6)",
        &[&id, &source, &target_schema, options, &host, &pid],
    )?;
    Ok(())
}

/// Records the plan a run applies (read back by `verify`).
pub fn record_plan(client: &Client, id: Uuid, plan: &Json) -> Result<()> {
    let plan = jsonb_safe(plan);
    client.query(
        "recording the run's plan",
        "UPDATE lite2pg.runs SET plan = $2 WHERE id = $1",
        &[&id, &plan],
    )?;
    Ok(())
}

/// Marks a resumed run as running again, by this process.
pub fn reopen_run(client: &Client, id: Uuid) -> Result<()> {
    let pid = std::process::id() as i32;
    client.query(
        "reopening the run",
        "UPDATE lite2pg.runs SET status = 'running', pid = $2, error = NULL, updated_at = now() \
         WHERE id = $1",
        &[&id, &pid],
    )?;
    Ok(())
}

/// Records the phase a run has entered.
pub fn set_phase(client: &Client, id: Uuid, phase: &str) -> Result<()> {
    client.query(
        "recording the run's phase",
        "UPDATE lite2pg.runs SET phase = $2, updated_at = now() WHERE id = $1",
        &[&id, &phase],
    )?;
    Ok(())
}

/// Records how a run ended.
pub fn finish_run(
    client: &Client,
    id: Uuid,
    status: &str,
    error: Option<&str>,
    report: Option<&Json>,
) -> Result<()> {
    let report = report.map(jsonb_safe);
    client.query(
        "recording the end of the run",
        "UPDATE lite2pg.runs SET status = $2, error = $3, report = $4, finished_at = now(), \
         updated_at = now() WHERE id = $1",
        &[&id, &status, &error, &report],
    )?;
    Ok(())
}

/// `json` with every NUL character in its strings spelled out as the six characters
/// `\u0000`: jsonb cannot hold NUL, and a report quoting a rejected value may contain one.
fn jsonb_safe(json: &Json) -> Json {
    match json {
        Json::String(s) if s.contains('\0') => Json::String(s.replace('\0', "\\u0000")),
        Json::Array(items) => Json::Array(items.iter().map(jsonb_safe).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.replace('\0', "\\u0000"), jsonb_safe(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The `(phase, object)` steps a run has finished.
pub fn done_steps(client: &Client, id: Uuid) -> Result<HashSet<(String, String)>> {
    let rows = client.query(
        "reading the run's finished steps",
        "SELECT phase, object FROM lite2pg.objects WHERE run_id = $1",
        &[&id],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The SQL a run recorded for each object of `phase`.
pub fn recorded_sql(client: &Client, id: Uuid, phase: &str) -> Result<HashMap<String, String>> {
    let rows = client.query(
        "reading the run's recorded DDL",
        "SELECT object, sql FROM lite2pg.objects WHERE run_id = $1 AND phase = $2",
        &[&id, &phase],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A committed chunk as the control schema remembers it.
#[derive(Debug, Clone)]
pub struct Done {
    /// Order of the chunk within its table.
    pub ord: i64,
    /// Exclusive lower bound (`None`: unbounded).
    pub lo: Option<Json>,
    /// Inclusive upper bound (`None`: unbounded).
    pub hi: Option<Json>,
}

/// Committed chunks of a run, by target table.
pub fn done_chunks(client: &Client, id: Uuid) -> Result<HashMap<String, Vec<Done>>> {
    let rows = client.query(
        "reading committed chunks",
        "SELECT target_name, ord, lo, hi FROM lite2pg.chunks WHERE run_id = $1",
        &[&id],
    )?;
    let mut out: HashMap<String, Vec<Done>> = HashMap::new();
    for r in rows {
        out.entry(r.get(0)).or_default().push(Done {
            ord: r.get(1),
            lo: r.get(2),
            hi: r.get(3),
        });
    }
    Ok(out)
}

/// Totals per target table over every committed chunk of a run.
#[derive(Debug, Clone, Default)]
pub struct CopyTotals {
    /// Rows read from SQLite.
    pub read: i64,
    /// Rows written to PostgreSQL.
    pub written: i64,
    /// Rows rejected.
    pub rejected: i64,
    /// Bytes of encoded rows.
    pub bytes: i64,
    /// Seconds spent in chunk transactions (summed over parallel streams).
    pub seconds: f64,
}

/// Copy totals of a run, by target table.
pub fn copy_totals(client: &Client, id: Uuid) -> Result<HashMap<String, CopyTotals>> {
    let rows = client.query(
        "reading copy totals",
        "SELECT target_name, sum(rows_read)::bigint, sum(rows_written)::bigint, \
         sum(rows_rejected)::bigint, sum(bytes)::bigint, sum(seconds) \
         FROM lite2pg.chunks WHERE run_id = $1 GROUP BY target_name",
        &[&id],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                CopyTotals {
                    read: r.get(1),
                    written: r.get(2),
                    rejected: r.get(3),
                    bytes: r.get(4),
                    seconds: r.get(5),
                },
            )
        })
        .collect())
}

/// One reject as stored.
#[derive(Debug, Clone)]
pub struct RejectRow {
    /// Target table.
    pub table: String,
    /// Key, for people.
    pub key: Json,
    /// Column refused, if known.
    pub column: Option<String>,
    /// Why.
    pub reason: String,
    /// Original bytes.
    pub value: Option<Vec<u8>>,
    /// Kind of the original value.
    pub value_kind: String,
    /// Carried with its value changed (`--invalid-text clean`), not rejected.
    pub carried: bool,
}

/// How many entries a run's reject file lists: rejected rows and values carried cleaned.
pub fn listed_rejects(client: &Client, id: Uuid) -> Result<i64> {
    Ok(client
        .query(
            "counting rejected rows",
            "SELECT count(*) FROM lite2pg.rejects WHERE run_id = $1",
            &[&id],
        )?
        .first()
        .map(|r| r.get(0))
        .unwrap_or(0))
}

/// One page of a run's rejects, in table and chunk order.
pub fn rejects(client: &Client, id: Uuid, offset: i64, limit: i64) -> Result<Vec<RejectRow>> {
    let rows = client.query(
        "reading rejected rows",
        "SELECT target_name, key, column_name, reason, value, value_kind, carried \
         FROM lite2pg.rejects WHERE run_id = $1 ORDER BY target_name, ord, seq \
         OFFSET $2 LIMIT $3",
        &[&id, &offset, &limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| RejectRow {
            table: r.get(0),
            key: r.get(1),
            column: r.get(2),
            reason: r.get(3),
            value: r.get(4),
            value_kind: r.get(5),
            carried: r.get(6),
        })
        .collect())
}

/// An object a statement creates, by kind, schema and unquoted name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Created {
    /// What it is.
    pub kind: ObjectKind,
    /// The schema it is in (empty for a schema or an extension).
    pub schema: String,
    /// Its name, unquoted.
    pub name: String,
}

/// The kinds of object a run creates and `rollback --run` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// `CREATE SCHEMA`.
    Schema,
    /// `CREATE EXTENSION`.
    Extension,
    /// `CREATE TABLE`.
    Table,
    /// `CREATE VIEW`.
    View,
    /// `CREATE FUNCTION` (a trigger's; the trigger goes with its table).
    Function,
}

impl ObjectKind {
    /// The name stored in `lite2pg.objects.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::Function => "function",
        }
    }

    /// Reads a stored kind.
    pub fn parse(s: &str) -> Option<ObjectKind> {
        [
            ObjectKind::Schema,
            ObjectKind::Extension,
            ObjectKind::Table,
            ObjectKind::View,
            ObjectKind::Function,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl Created {
    /// The object `kind` named `name` in `schema`.
    pub fn new(kind: ObjectKind, schema: &str, name: &str) -> Option<Created> {
        Some(Created {
            kind,
            schema: schema.to_string(),
            name: name.to_string(),
        })
    }
}

/// Runs `sql` and records it as a finished step of run `id` in the same transaction, so a
/// step is either done and recorded or neither. Returns the seconds it took.
pub fn run_step(
    client: &mut Client,
    id: Uuid,
    phase: &str,
    object: &str,
    sql: &str,
    creates: Option<&Created>,
) -> Result<f64> {
    let kind = creates.map(|c| c.kind.as_str());
    let schema_name = creates.map(|c| c.schema.as_str());
    let name = creates.map(|c| c.name.as_str());
    let target = client.target().to_string();
    let started = std::time::Instant::now();
    client
        .with(|c| async move {
            let tx = c.transaction().await?;
            tx.batch_execute(sql).await?;
            let seconds = started.elapsed().as_secs_f64();
            tx.execute(
                "INSERT INTO lite2pg.objects (run_id, phase, object, sql, seconds, kind, \
                 schema_name, name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (run_id, phase, object) DO NOTHING",
                &[
                    &id,
                    &phase,
                    &object,
                    &sql,
                    &seconds,
                    &kind,
                    &schema_name,
                    &name,
                ],
            )
            .await?;
            tx.commit().await
        })
        .map_err(|e| super::classify(&target, object, &e))?;
    Ok(started.elapsed().as_secs_f64())
}
