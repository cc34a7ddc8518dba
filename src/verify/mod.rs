//! `lite2pg verify`: every row of every migrated table compared with its SQLite source.
//!
//! 1. the plan says which PostgreSQL table and column each SQLite one became and what the
//!    key is; the catalog says the types PostgreSQL really has (they decide the comparison);
//! 2. [`schema_check`]: the catalog against the plan — columns, types, nullability,
//!    defaults, keys, indexes, foreign keys;
//! 3. pass 1 ([`scan`]): both sides read in parallel parts into range digests;
//! 4. pass 2: the ranges whose digests differ are read again, only their rows kept, and
//!    compared row by row and column by column ([`compare`]).
//!
//! Values reach one canonical form by two independent roads ([`canon`]); nothing here
//! uses the copier's encoder (DESIGN.md rule 6).

pub mod canon;
pub mod command;
pub mod compare;
mod copy_stream;
pub mod fused;
pub mod report;
pub mod scan;
pub mod schema_check;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use canon::{Col, Kind};
use rusqlite::types::Value;
use scan::{ColSpec, Digests, Part, Rows, Sample, Sink, TableSpec};

use crate::error::{Error, Result};
use crate::pg::{connect_target, qualified, Client, Target};
use crate::plan::{Conversion, PgType, SourceZone};
use crate::plan::{Plan, RowIdentity};
use crate::sqlite::open::Source;

pub use command::{verify, verify_with_report, Output, VerifyRequest};
pub use fused::{Fused, FusedDigests, Hashing};
pub use report::{Mismatch, MismatchKind, TableStatus, TableVerify, VerifyReport};

/// Rows held in memory at once by the row-level pass, over both sides.
const ROW_PASS_ROWS: u64 = 200_000;
/// Tables with fewer rows are read in one part per side.
const SPLIT_ROWS: u64 = 100_000;

/// Says whether a source row's key has a change waiting in the capture log (`sync`): such
/// rows are re-checked later, not reported as mismatches.
pub type Pending = Arc<dyn Fn(&str, &serde_json::Value) -> bool + Send + Sync>;

/// How a comparison runs.
#[derive(Clone)]
pub struct Options {
    /// Parallel readers.
    pub jobs: usize,
    /// Fraction of rows compared (by key hash, the same rows on both sides).
    pub sample: f64,
    /// Mismatches listed per table (all are counted).
    pub max_mismatches: usize,
    /// Keys with a pending captured change.
    pub pending: Option<Pending>,
    /// Compare only these keys of tables with a single integer key (PostgreSQL table name →
    /// keys): `cutover` and `rollback` check the rows written since the last verification
    /// while writers wait. Tables with another key are compared whole.
    pub only_keys: Option<Arc<HashMap<String, Vec<i64>>>>,
    /// Compare the catalog with the plan too (a cutover's freeze leaves it to the full
    /// verifications before).
    pub schema_check: bool,
    /// The SQLite side as the copy just read it ([`fused`]), used where it holds.
    pub fused: Option<Arc<FusedDigests>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 2,
            sample: 1.0,
            max_mismatches: 1000,
            pending: None,
            only_keys: None,
            schema_check: true,
            fused: None,
        }
    }
}

/// One column of a table as PostgreSQL's catalog has it.
#[derive(Debug, Clone)]
pub struct CatalogColumn {
    /// Column name.
    pub name: String,
    /// `pg_type.typname`.
    pub typname: String,
    /// `format_type(...)`, e.g. `character varying(32)`.
    pub formatted: String,
    /// `attnotnull`.
    pub not_null: bool,
    /// Has a default expression.
    pub has_default: bool,
    /// Identity column.
    pub identity: bool,
    /// Generated column.
    pub generated: bool,
}

/// One table as PostgreSQL's catalog has it.
#[derive(Debug, Clone, Default)]
pub struct CatalogTable {
    /// Columns in order.
    pub columns: Vec<CatalogColumn>,
    /// Heap blocks.
    pub blocks: u64,
}

/// Reads the catalog of the tables in `schema`.
pub fn catalog(client: &Client, schema: &str) -> Result<HashMap<String, CatalogTable>> {
    let rows = client.query(
        "reading the target's catalog",
        "SELECT c.relname, a.attname, t.typname, format_type(a.atttypid, a.atttypmod), \
                a.attnotnull, a.atthasdef, a.attidentity <> '', a.attgenerated <> '', \
                (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum",
        &[&schema],
    )?;
    let mut out: HashMap<String, CatalogTable> = HashMap::new();
    for r in rows {
        let t = out.entry(r.get(0)).or_default();
        t.blocks = r.get::<_, i64>(8).max(0) as u64;
        t.columns.push(CatalogColumn {
            name: r.get(1),
            typname: r.get(2),
            formatted: r.get(3),
            not_null: r.get(4),
            has_default: r.get(5),
            identity: r.get(6),
            generated: r.get(7),
        });
    }
    Ok(out)
}

/// What is compared of a planned table, or why it cannot be.
fn table_spec(
    plan: &Plan,
    t: &crate::plan::TablePlan,
    cat: &CatalogTable,
) -> std::result::Result<TableSpec, String> {
    let mut columns = Vec::new();
    for c in &t.columns {
        if c.source.is_empty() || c.generated {
            continue;
        }
        let Some(pc) = cat.columns.iter().find(|pc| pc.name == c.target) else {
            return Err(format!("column {} is missing in PostgreSQL", c.target));
        };
        let kind = Kind::from_typname(&pc.typname);
        let epoch = match c.conversion {
            Conversion::Epoch { unit } => Some(unit),
            _ => None,
        };
        let naive_zone = match c.conversion {
            Conversion::NaiveAt { offset_seconds } => Some(SourceZone::Offset(offset_seconds)),
            Conversion::NaiveIn { zone } => Some(SourceZone::Named(zone)),
            _ => None,
        };
        // The precision and scale from the target's catalog: a stored plan keeps no types.
        let decimal = match (c.conversion, PgType::from_sql(&pc.formatted)) {
            (Conversion::DecimalAsRead { reading }, Some(PgType::Numeric(typmod))) => {
                Some((reading, typmod))
            }
            _ => None,
        };
        columns.push(ColSpec {
            source: c.source.clone(),
            target: c.target.clone(),
            col: Col {
                kind: kind.unwrap_or(Kind::Text),
                epoch,
                naive_zone,
                decimal,
                clean_text: c.conversion == Conversion::CleanText,
            },
            as_text: kind.is_none(),
        });
    }
    let (key, rowid_column) = match &t.row_identity {
        RowIdentity::PrimaryKey { columns: keys } => {
            let mut pos = Vec::new();
            for k in keys {
                match columns.iter().position(|c| &c.target == k) {
                    Some(p) => pos.push(p),
                    None => return Err(format!("key column {k} is not compared")),
                }
            }
            (pos, None)
        }
        RowIdentity::AddedRowid { column } => (
            Vec::new(),
            cat.columns
                .iter()
                .any(|pc| &pc.name == column)
                .then(|| column.clone()),
        ),
        RowIdentity::None => (Vec::new(), None),
    };
    Ok(TableSpec {
        source: t.source.clone(),
        target: t.target.clone(),
        qualified: qualified(&plan.options.schema, &t.target),
        columns,
        key,
        rowid_column,
        has_rowid: !t.without_rowid,
        int_key: None,
        only: None,
    })
}

/// log2 of the number of ranges for a table of `rows` rows: about 128 rows a range.
fn range_bits(rows: u64) -> u32 {
    let ranges = (rows / 128).clamp(1, 1 << 16);
    64 - (ranges - 1).leading_zeros().min(64)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Sqlite,
    Postgres,
}

struct Task {
    table: usize,
    side: Side,
    part: Part,
}

/// Cuts each side of each table into parts for `jobs` readers.
fn tasks(specs: &[(TableSpec, u64, u64, u64)], jobs: usize, which: &[usize]) -> Vec<Task> {
    let mut out = Vec::new();
    for &i in which {
        let (spec, rows, max_rowid, blocks) = &specs[i];
        let parts = if *rows >= SPLIT_ROWS && spec.only.is_none() {
            jobs.max(1) as u64
        } else {
            1
        };
        if parts > 1 && spec.has_rowid && *max_rowid > 0 {
            for k in 0..parts {
                let lo = (k > 0).then(|| (*max_rowid as i64) / parts as i64 * k as i64);
                let hi =
                    (k + 1 < parts).then(|| (*max_rowid as i64) / parts as i64 * (k as i64 + 1));
                out.push(Task {
                    table: i,
                    side: Side::Sqlite,
                    part: Part::Rowid(lo, hi),
                });
            }
        } else {
            out.push(Task {
                table: i,
                side: Side::Sqlite,
                part: Part::All,
            });
        }
        if parts > 1 && *blocks > parts {
            for k in 0..parts {
                let lo = (k > 0).then(|| (*blocks / parts * k) as u32);
                let hi = (k + 1 < parts).then(|| (*blocks / parts * (k + 1)) as u32);
                out.push(Task {
                    table: i,
                    side: Side::Postgres,
                    part: Part::Blocks(lo, hi),
                });
            }
        } else {
            out.push(Task {
                table: i,
                side: Side::Postgres,
                part: Part::All,
            });
        }
    }
    // Large parts first, and the two sides alternating (a SQLite part, then a PostgreSQL
    // part of the same size) so both engines work at once rather than one after the other.
    let size = |t: &Task| {
        specs[t.table].1
            / if matches!(t.part, Part::All) {
                1
            } else {
                jobs.max(1) as u64
            }
    };
    let mut sqlite: Vec<Task> = Vec::new();
    let mut postgres: Vec<Task> = Vec::new();
    for t in out {
        match t.side {
            Side::Sqlite => sqlite.push(t),
            Side::Postgres => postgres.push(t),
        }
    }
    sqlite.sort_by_key(|t| std::cmp::Reverse(size(t)));
    postgres.sort_by_key(|t| std::cmp::Reverse(size(t)));
    let mut merged = Vec::with_capacity(sqlite.len() + postgres.len());
    let (mut a, mut b) = (
        sqlite.into_iter().peekable(),
        postgres.into_iter().peekable(),
    );
    while a.peek().is_some() || b.peek().is_some() {
        merged.extend(a.next());
        merged.extend(b.next());
    }
    merged
}

/// Runs `tasks` on `jobs` threads, each with its own SQLite connection and PostgreSQL
/// session; `work` gets a task and its reader's connections.
fn run_tasks<F>(
    open: &(dyn Fn() -> Result<rusqlite::Connection> + Sync),
    target: &Target,
    jobs: usize,
    tasks: Vec<Task>,
    work: F,
) -> Result<()>
where
    F: Fn(&Task, &rusqlite::Connection, &mut Client) -> Result<()> + Sync,
{
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let threads = jobs.max(1).min(tasks.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut conn: Option<rusqlite::Connection> = None;
                let mut client: Option<Client> = None;
                loop {
                    if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
                        return;
                    }
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(task) = tasks.get(k) else { return };
                    let outcome = (|| -> Result<()> {
                        if conn.is_none() {
                            conn = Some(open()?);
                        }
                        if client.is_none() {
                            client = Some(connect_target(target)?);
                        }
                        match (conn.as_ref(), client.as_mut()) {
                            (Some(c), Some(p)) => work(task, c, p),
                            _ => Ok(()),
                        }
                    })();
                    if let Err(e) = outcome {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    match failed.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

fn read_part(
    task: &Task,
    spec: &TableSpec,
    conn: &rusqlite::Connection,
    client: &mut Client,
    sample: Sample,
    sink: &mut Sink<'_>,
    source: &std::path::Path,
) -> Result<()> {
    match task.side {
        Side::Sqlite => scan::sqlite_part(conn, spec, task.part, sample, sink)
            .map_err(|e| crate::sqlite::open::classify(source, &e)),
        Side::Postgres => scan::postgres_part(client, spec, task.part, sample, sink),
    }
}

/// Compares every planned table of `plan` in `target` with the SQLite source: the schema
/// against the plan, then pass 1 (range digests of both sides), then pass 2 (the differing
/// ranges row by row).
pub fn compare_tables(
    src: &Source,
    plan: &Plan,
    target: &Target,
    client: &Client,
    opts: &Options,
) -> Result<(Vec<TableVerify>, Vec<report::SchemaFinding>)> {
    crate::failpoint::hit("verify.compare");
    let cat = catalog(client, &plan.options.schema)?;
    let schema_findings = if opts.schema_check {
        schema_check::check(client, plan, &cat)?
    } else {
        Vec::new()
    };
    let (mut results, mut specs, result_of) = comparable_tables(src, plan, &cat)?;
    let mut bits: Vec<u32> = specs
        .iter()
        .map(|s| range_bits(s.1.max(s.3 * 20)))
        .collect();
    // The SQLite side the copy hashed as it read, where it stands for a reading of its own
    // (cut into the same ranges, every row there).
    let mut prefilled: AllDigests = HashMap::new();
    if let (Some(f), None, true) = (&opts.fused, &opts.only_keys, opts.sample >= 1.0) {
        for (i, s) in specs.iter().enumerate() {
            if let Some((b, d)) = f.take(src, s)? {
                bits[i] = b;
                prefilled.insert((i, true), d);
            }
        }
    }
    key_ranges(src, &mut specs, &bits, opts)?;
    if let Some(f) = &opts.fused {
        // Cut alike: the key span SQLite gives now is the one the copy's snapshot gave.
        prefilled.retain(|(i, _), _| f.int_key(&specs[*i].0.source) == Some(specs[*i].0.int_key));
    }
    let open = src.reopener();
    let pass = Pass {
        open: &open,
        target,
        opts,
        sample: Sample::of(opts.sample),
        source_path: &src.path,
        specs: &specs,
        bits: &bits,
    };
    for &(i, _) in prefilled.keys() {
        results[result_of[i]].source_hashed_in_copy = true;
    }
    let digests = pass.digests(prefilled)?;
    for (i, &at) in result_of.iter().enumerate() {
        let diff = differing_ranges(&digests, i, bits[i], &mut results[at]);
        if !diff.is_empty() {
            pass.rows(i, &diff, &digests, &mut results[at])?;
        }
    }
    Ok((results, schema_findings))
}

/// A table the passes compare: its spec, estimated rows, largest rowid, heap blocks.
type Compared = (TableSpec, u64, u64, u64);

/// A verdict per planned table (a table missing in PostgreSQL, or one that cannot be
/// compared, is decided here), the tables to compare, and where each one's verdict is.
fn comparable_tables(
    src: &Source,
    plan: &Plan,
    cat: &HashMap<String, CatalogTable>,
) -> Result<(Vec<TableVerify>, Vec<Compared>, Vec<usize>)> {
    let mut results: Vec<TableVerify> = Vec::new();
    let mut specs: Vec<Compared> = Vec::new();
    let mut result_of: Vec<usize> = Vec::new();
    for t in &plan.tables {
        let mut tv = TableVerify::new(&t.source, &t.target);
        let Some(c) = cat.get(&t.target) else {
            tv.status = TableStatus::MissingInTarget;
            tv.note = Some("the table is not in PostgreSQL".into());
            tv.source_rows = Some(count_sqlite(src, &t.source)?);
            results.push(tv);
            continue;
        };
        match table_spec(plan, t, c) {
            Ok(spec) => {
                let max_rowid = if spec.has_rowid {
                    max_rowid(src, &t.source)?
                } else {
                    0
                };
                specs.push((spec, t.rows, max_rowid, c.blocks));
                result_of.push(results.len());
            }
            Err(why) => {
                tv.status = TableStatus::Mismatch;
                tv.note = Some(format!("not compared: {why}"));
            }
        }
        results.push(tv);
    }
    Ok((results, specs, result_of))
}

/// Ranges by key value for tables keyed by one integer (index range scans in pass 2), and
/// the keys to compare when `opts` restricts them.
fn key_ranges(src: &Source, specs: &mut [Compared], bits: &[u32], opts: &Options) -> Result<()> {
    for (i, (spec, ..)) in specs.iter_mut().enumerate() {
        if let [k] = spec.key[..] {
            if spec.columns[k].col.kind == Kind::Int {
                spec.int_key = int_key_span(src, &spec.source, &spec.columns[k].source)?
                    .map(|(min, max)| scan::IntRanges::new(min, max, bits[i]));
                spec.only = opts
                    .only_keys
                    .as_ref()
                    .and_then(|m| m.get(&spec.target))
                    .map(|keys| Arc::new(keys.clone()));
            }
        }
    }
    Ok(())
}

/// Range digests of both sides, by (table, is SQLite).
type AllDigests = HashMap<(usize, bool), Digests>;

/// The ranges whose digests differ for table `i`, with its row counts and status recorded
/// in `tv`.
fn differing_ranges(digests: &AllDigests, i: usize, bits: u32, tv: &mut TableVerify) -> Vec<usize> {
    let empty = Digests::new(bits);
    let s = digests.get(&(i, true)).unwrap_or(&empty);
    let p = digests.get(&(i, false)).unwrap_or(&empty);
    tv.source_rows = Some(s.rows());
    tv.target_rows = Some(p.rows());
    tv.ranges_compared = s.counts.len() as u64;
    let diff: Vec<usize> = (0..s.counts.len())
        .filter(|&r| s.counts[r] != p.counts[r] || s.sums[r] != p.sums[r])
        .collect();
    tv.ranges_differing = diff.len() as u64;
    tv.status = if diff.is_empty() {
        TableStatus::Match
    } else {
        TableStatus::Mismatch
    };
    diff
}

/// What both passes read with: connections to each side, the tables and their ranges.
struct Pass<'a> {
    open: &'a (dyn Fn() -> Result<rusqlite::Connection> + Sync),
    target: &'a Target,
    opts: &'a Options,
    sample: Sample,
    source_path: &'a std::path::Path,
    specs: &'a [Compared],
    bits: &'a [u32],
}

impl Pass<'_> {
    /// Pass 1: range digests of every table on both sides, but the sides `prefilled`
    /// already has.
    fn digests(&self, prefilled: AllDigests) -> Result<AllDigests> {
        let all: Vec<usize> = (0..self.specs.len()).collect();
        let mut work = tasks(self.specs, self.opts.jobs, &all);
        work.retain(|t| !prefilled.contains_key(&(t.table, t.side == Side::Sqlite)));
        let digests: Mutex<AllDigests> = Mutex::new(prefilled);
        run_tasks(
            self.open,
            self.target,
            self.opts.jobs,
            work,
            |task, conn, client| {
                let spec = &self.specs[task.table].0;
                let mut d = Digests::new(self.bits[task.table]);
                read_part(
                    task,
                    spec,
                    conn,
                    client,
                    self.sample,
                    &mut Sink::Digest(&mut d),
                    self.source_path,
                )?;
                if let Ok(mut all) = digests.lock() {
                    all.entry((task.table, task.side == Side::Sqlite))
                        .or_insert_with(|| Digests::new(self.bits[task.table]))
                        .merge(&d);
                }
                Ok(())
            },
        )?;
        Ok(digests.into_inner().unwrap_or_default())
    }

    /// Pass 2 for table `i`: its differing ranges row by row, in batches that fit in
    /// memory; the differing rows go into `tv`.
    fn rows(
        &self,
        i: usize,
        diff: &[usize],
        digests: &AllDigests,
        tv: &mut TableVerify,
    ) -> Result<()> {
        let t0 = Instant::now();
        let s = digests.get(&(i, true));
        let p = digests.get(&(i, false));
        let weight =
            |r: usize| s.map(|d| d.counts[r]).unwrap_or(0) + p.map(|d| d.counts[r]).unwrap_or(0);
        let mut batches: Vec<HashSet<usize>> = vec![HashSet::new()];
        let mut held = 0u64;
        for &r in diff {
            if held + weight(r) > ROW_PASS_ROWS
                && !batches.last().map(|b| b.is_empty()).unwrap_or(true)
            {
                batches.push(HashSet::new());
                held = 0;
            }
            held += weight(r);
            if let Some(b) = batches.last_mut() {
                b.insert(r);
            }
        }
        let spec = &self.specs[i].0;
        let mut found = compare::Found::new(self.opts.max_mismatches);
        for ranges in &batches {
            let (srows, prows) = self.read_rows(i, ranges)?;
            compare::rows(spec, srows, prows, self.opts.pending.as_ref(), &mut found);
        }
        found.finish(tv);
        if tv.mismatch_count == 0 && tv.pending_rows == 0 {
            // The digests differed but no row does: only possible if a row changed between
            // the passes (a live source); say so rather than claim a match.
            tv.note = Some("range digests differed but the rows read again all match: the source changed while it was read".into());
        }
        tv.seconds += t0.elapsed().as_secs_f64();
        Ok(())
    }

    /// The rows of table `i` in `ranges`, from each side.
    fn read_rows(&self, i: usize, ranges: &HashSet<usize>) -> Result<(Rows, Rows)> {
        let spec = &self.specs[i].0;
        let rows: Mutex<(Rows, Rows)> = Mutex::new((Rows::new(), Rows::new()));
        let work = match &spec.int_key {
            // Only the differing key ranges are read again, by index range scans.
            Some(ir) => interval_tasks(i, ir, ranges),
            None => tasks(self.specs, self.opts.jobs, &[i]),
        };
        run_tasks(
            self.open,
            self.target,
            self.opts.jobs,
            work,
            |task, conn, client| {
                let mut mine = Rows::new();
                let mut sink = Sink::Collect {
                    ranges,
                    bits: self.bits[i],
                    rows: &mut mine,
                };
                read_part(
                    task,
                    spec,
                    conn,
                    client,
                    self.sample,
                    &mut sink,
                    self.source_path,
                )?;
                if let Ok(mut both) = rows.lock() {
                    let side = if task.side == Side::Sqlite {
                        &mut both.0
                    } else {
                        &mut both.1
                    };
                    for (k, mut v) in mine {
                        side.entry(k).or_default().append(&mut v);
                    }
                }
                Ok(())
            },
        )?;
        Ok(rows.into_inner().unwrap_or_default())
    }
}

/// Tasks reading the differing ranges of an integer-keyed table on both sides: adjacent
/// ranges merged into one key interval each.
fn interval_tasks(table: usize, ir: &scan::IntRanges, ranges: &HashSet<usize>) -> Vec<Task> {
    let mut sorted: Vec<usize> = ranges.iter().copied().collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    while at < sorted.len() {
        let first = sorted[at];
        let mut last = first;
        while at + 1 < sorted.len() && sorted[at + 1] == last + 1 {
            at += 1;
            last = sorted[at];
        }
        at += 1;
        let (lo, hi) = ir.keys(first, last);
        for side in [Side::Sqlite, Side::Postgres] {
            out.push(Task {
                table,
                side,
                part: Part::Keys(lo, hi),
            });
        }
    }
    out
}

/// The smallest and largest integer in a SQLite key column, if it holds any.
fn int_key_span(src: &Source, table: &str, column: &str) -> Result<Option<(i64, i64)>> {
    let (c, t) = (
        crate::pg::quote_ident(column),
        crate::pg::quote_ident(table),
    );
    let span = |sql: String| {
        src.conn
            .query_row(&sql, [], |r| {
                Ok((r.get::<_, Value>(0)?, r.get::<_, Value>(1)?))
            })
            .map_err(|e| crate::sqlite::open::classify(&src.path, &e))
    };
    // NULL sorts before numbers and text and blobs after them: when both ends are
    // integers, they are the ends of the integers too.
    match span(bare_span_sql(&c, &t))? {
        (Value::Integer(a), Value::Integer(b)) => return Ok(Some((a, b))),
        (Value::Null, Value::Null) => return Ok(None),
        _ => {}
    }
    match span(format!(
        "SELECT min({c}), max({c}) FROM {t} WHERE typeof({c}) = 'integer'"
    ))? {
        (Value::Integer(a), Value::Integer(b)) => Ok(Some((a, b))),
        _ => Ok(None),
    }
}

/// The smallest and largest value of quoted column `c` of quoted table `t`: a key is
/// indexed, and SQLite looks a lone `min()` or `max()` up in the index, where `SELECT
/// min(c), max(c)` scans the whole table (measured: 75 ms for the three benchmark tables at
/// scale 1, twice per `migrate`).
fn bare_span_sql(c: &str, t: &str) -> String {
    format!("SELECT (SELECT min({c}) FROM {t}), (SELECT max({c}) FROM {t})")
}

fn count_sqlite(src: &Source, table: &str) -> Result<u64> {
    src.conn
        .query_row(
            &format!("SELECT count(*) FROM {}", crate::pg::quote_ident(table)),
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n.max(0) as u64)
        .map_err(|e| crate::sqlite::open::classify(&src.path, &e))
}

fn max_rowid(src: &Source, table: &str) -> Result<u64> {
    crate::sqlite::max_rowid(&src.conn, table)
        .map(|n| n.max(0) as u64)
        .map_err(|e| crate::sqlite::open::classify(&src.path, &e))
}
