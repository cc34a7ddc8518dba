//! The user's verbs, as library functions: each takes a validated request and returns the
//! process exit code it earned (DESIGN.md rule 7), or an error that carries its own.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::embedded::EmbeddedPg;
use crate::error::{Error, Result};
use crate::model::Schema;
use crate::plan::{self, validate, Plan, PlanOptions, Severity};
use crate::sqlite::profile::{Needs, TableProfile};
use crate::sqlite::{self, open_source, Source};

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Readable summary.
    Text,
    /// Stable JSON (docs/plan-format.md).
    Json,
    /// Runnable DDL.
    Sql,
}

/// Where the DDL is test-applied before it is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// On this server, in a rolled-back transaction.
    Url(String),
    /// On a throwaway local server, when server binaries are installed.
    Local,
    /// Not at all.
    Off,
}

/// A validated `plan` request.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The SQLite file.
    pub source: PathBuf,
    /// Output format.
    pub format: Format,
    /// Translation options.
    pub options: PlanOptions,
    /// Test-apply target.
    pub check: Check,
    /// Write here instead of standard output.
    pub output: Option<PathBuf>,
}

/// Reads schema and profile of a SQLite file.
pub fn load(path: &Path) -> Result<(Schema, HashMap<String, TableProfile>)> {
    let src = open_source(path)?;
    if let Some(note) = &src.snapshot_note {
        eprintln!("lite2pg: note: {note}");
    }
    load_from(&src)
}

fn needs(t: &crate::model::Table) -> Vec<(String, Needs)> {
    t.columns
        .iter()
        .map(|c| {
            let upper = c.declared_type.to_ascii_uppercase();
            let decimal = (upper.starts_with("DECIMAL")
                || upper.starts_with("NUMERIC")
                || upper.starts_with("NUMBER"))
                && upper.contains('(');
            (
                c.name.clone(),
                Needs {
                    decimal,
                    json: upper.starts_with("JSON"),
                    shapes: crate::translate::types::needs_shapes(&c.declared_type),
                },
            )
        })
        .collect()
}

/// Rowid tables at least this large are profiled in parts, one per core.
const SPLIT_ROWS: i64 = 200_000;

/// Reads schema and profile from an opened source. Tables are profiled on as many threads
/// as there are cores, largest first, each thread with its own read-only connection.
pub fn load_from(src: &Source) -> Result<(Schema, HashMap<String, TableProfile>)> {
    let path = &src.path;
    let mut schema = sqlite::introspect::introspect(src)?;
    // max(rowid) is a free size estimate; the largest work starts first.
    let order: Vec<(i64, usize)> = schema
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let size = if t.without_rowid || t.virtual_module.is_some() {
                0
            } else {
                sqlite::max_rowid(&src.conn, &t.name).unwrap_or(0)
            };
            (size, i)
        })
        .collect();
    // Large rowid tables are cut into rowid ranges so every thread has work to the end.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // (estimated rows, table, part, rowid range)
    type Work = (i64, usize, usize, Option<(Option<i64>, Option<i64>)>);
    let mut work: Vec<Work> = Vec::new();
    for &(size, i) in &order {
        let parts = if size >= SPLIT_ROWS && threads > 1 {
            threads as i64
        } else {
            1
        };
        if parts == 1 {
            work.push((size, i, 0, None));
            continue;
        }
        for k in 0..parts {
            let lo = (k > 0).then(|| size / parts * k);
            let hi = (k + 1 < parts).then(|| size / parts * (k + 1));
            work.push((size / parts, i, k as usize, Some((lo, hi))));
        }
    }
    work.sort_by_key(|(size, ..)| std::cmp::Reverse(*size));
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Part = (
        usize,
        usize,
        std::result::Result<TableProfile, rusqlite::Error>,
    );
    let results: std::sync::Mutex<Vec<Part>> = std::sync::Mutex::new(Vec::new());
    let tables = &schema.tables;
    let opened: Result<Vec<rusqlite::Connection>> = (0..threads.min(work.len().max(1)))
        .map(|_| src.reopen())
        .collect();
    std::thread::scope(|scope| {
        for conn in opened? {
            scope.spawn(|| {
                let conn = conn;
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&(_, i, part, range)) = work.get(k) else {
                        return;
                    };
                    let t = &tables[i];
                    let p = sqlite::profile::profile_part(
                        &conn,
                        &t.name,
                        &needs(t),
                        !t.without_rowid,
                        range,
                    );
                    if let Ok(mut r) = results.lock() {
                        r.push((i, part, p));
                    }
                }
            });
        }
        Ok::<(), Error>(())
    })?;
    let mut results = results.into_inner().unwrap_or_default();
    // Parts merge in rowid order, so samples are the ones a single pass would keep.
    results.sort_by_key(|(i, part, _)| (*i, *part));
    let mut merged: Vec<(usize, std::result::Result<TableProfile, rusqlite::Error>)> = Vec::new();
    for (i, _, outcome) in results {
        match (merged.last_mut(), outcome) {
            (Some((j, Ok(acc))), Ok(p)) if *j == i => acc.merge(&p),
            (Some((j, acc)), Err(e)) if *j == i => *acc = Err(e),
            (Some((j, _)), _) if *j == i => {}
            (_, outcome) => merged.push((i, outcome)),
        }
    }
    let mut profiles = HashMap::new();
    let mut unreadable = Vec::new();
    for (i, outcome) in merged {
        let t = &schema.tables[i];
        match outcome {
            Ok(p) => {
                profiles.insert(t.name.clone(), p);
            }
            Err(e) if t.virtual_module.is_some() => {
                unreadable.push((t.name.clone(), e.to_string()))
            }
            Err(e) => {
                let inner = sqlite::open::classify(path, &e);
                return Err(Error::source(
                    path,
                    format!(
                        "reading table {}: {}",
                        crate::pg::quote_ident(&t.name),
                        match inner {
                            Error::Source { problem, .. } => problem,
                            other => other.to_string(),
                        }
                    ),
                ));
            }
        }
    }
    for (name, why) in unreadable {
        schema.tables.retain(|t| t.name != name);
        schema.skipped.push(crate::model::SkippedObject {
            name,
            kind: "virtual table".into(),
            reason: format!("its module is not available here, rows cannot be read: {why}"),
        });
    }
    Ok((schema, profiles))
}

/// Builds a plan and test-applies it on `client` in a scratch schema, rolled back;
/// statements PostgreSQL refuses are left out and reported.
pub fn plan_checked(
    source: &str,
    schema: &Schema,
    profiles: &HashMap<String, TableProfile>,
    options: &PlanOptions,
    client: &crate::pg::Client,
    place: &str,
) -> Result<Plan> {
    let mut plan = crate::translate::build_plan(source, schema, profiles, options);
    // The scratch-schema twin is built only when something will run it.
    let scratch_schema = format!("lite2pg_check_{}", uuid::Uuid::new_v4().simple());
    let scratch_opts = PlanOptions {
        schema: scratch_schema.clone(),
        ..options.clone()
    };
    let scratch = crate::translate::build_plan(source, schema, profiles, &scratch_opts);
    let refused = validate::test_apply(client, &scratch, &scratch_schema)?;
    validate::apply_refusals(&mut plan, &refused, place);
    Ok(plan)
}

/// Builds a plan and, per `check`, test-applies it.
pub fn make_plan(source: &Path, options: &PlanOptions, check: &Check) -> Result<Plan> {
    let (schema, profiles) = load(source)?;
    let display = source.display().to_string();
    match check {
        Check::Off => Ok(crate::translate::build_plan(
            &display, &schema, &profiles, options,
        )),
        Check::Url(url) => {
            let client = crate::pg::connect(url)?;
            let place = client.target().to_string();
            plan_checked(&display, &schema, &profiles, options, &client, &place)
        }
        Check::Local => match EmbeddedPg::start() {
            Ok(pg) => {
                let client = crate::pg::connect(&pg.url("postgres"))?;
                plan_checked(
                    &display,
                    &schema,
                    &profiles,
                    options,
                    &client,
                    "a throwaway local PostgreSQL",
                )
            }
            Err(e) => {
                let mut plan = crate::translate::build_plan(&display, &schema, &profiles, options);
                plan.validation = Some(format!(
                    "DDL not test-applied ({e}); pass --to URL to check it against a server"
                ));
                Ok(plan)
            }
        },
    }
}

pub(crate) fn write_output(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(|e| Error::io("writing to standard output", e)),
            }
        }
    }
}

/// Renders a plan in `format`.
pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => plan::render_text(plan),
        Format::Json => plan::render_json(plan),
        Format::Sql => plan::render_sql(plan),
    }
}

/// `lite2pg plan`: exit 0 when nothing needs a decision, 1 when findings do.
pub fn plan(req: &PlanRequest) -> Result<i32> {
    let plan = make_plan(&req.source, &req.options, &req.check)?;
    write_output(req.output.as_deref(), &render(&plan, req.format))?;
    Ok(match plan.worst() {
        Some(Severity::Warning) | Some(Severity::Error) => 1,
        _ => 0,
    })
}

/// A validated `demo` request.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// Keep the sample database here instead of a temporary file.
    pub keep: Option<PathBuf>,
    /// Report files to write (`.json`, `.md`).
    pub reports: Vec<PathBuf>,
}

/// `lite2pg demo`: builds the sample database and rehearses its migration on a throwaway
/// server. Exits 0 when the rehearsal ran: the sample's rejected rows and findings are the
/// point of the demo, not a failure.
pub fn demo(req: &DemoRequest) -> Result<i32> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let path = match &req.keep {
        Some(p) => p.clone(),
        None => dir.path().join("demo.db"),
    };
    crate::demo::build_sample(&path)?;
    eprintln!(
        "lite2pg demo: built a sample SQLite database with messy data at {}",
        path.display()
    );
    let rejects = dir.path().join("demo.rejects.jsonl");
    let request = crate::migrate::MigrateRequest {
        source: path.clone(),
        target: crate::migrate::TargetChoice::Rehearsal,
        options: PlanOptions::default(),
        jobs: crate::migrate::default_jobs(),
        tables: Vec::new(),
        exclude: Vec::new(),
        mode: crate::migrate::Mode::All,
        resume: false,
        replace: false,
        verify: true,
        reject_file: Some(rejects.clone()),
        reports: req.reports.clone(),
        quiet: false,
        stall_timeout: std::time::Duration::from_secs(60),
        source_copy: None,
    };
    let (report, _) = crate::migrate::migrate_with_report(&request)?;
    if report.rows_rejected > 0 {
        let lines = std::fs::read_to_string(&rejects)
            .map_err(|e| Error::io(format!("reading {}", rejects.display()), e))?;
        let mut shown = String::from("\nrejected rows (what --reject-file holds):\n");
        for l in lines.lines().take(5) {
            shown.push_str("  ");
            shown.push_str(l);
            shown.push('\n');
        }
        write_output(None, &shown)?;
    }
    if req.keep.is_none() {
        eprintln!(
            "lite2pg demo: nothing was kept. Rehearse your own database with `lite2pg migrate \
             APP.db`, or keep the sample with `lite2pg demo --keep demo.db`."
        );
    }
    Ok(0)
}
