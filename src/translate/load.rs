//! Reading what the translator needs from a SQLite source: its schema (introspection) and
//! a profile of every column's stored values, tables profiled in parallel.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::Schema;
use crate::sqlite::profile::{Needs, TableProfile};
use crate::sqlite::{self, open_source, Source};

/// Reads schema and profile of a SQLite file.
pub fn load(path: &Path) -> Result<(Schema, HashMap<String, TableProfile>)> {
    let src = open_source(path)?;
    if let Some(note) = &src.snapshot_note {
        eprintln!("lite2pg: note: {note}");
    }
    let loaded = load_from(&src)?;
    // A file read in place without locking must have been one moment throughout.
    src.check_unchanged()?;
    Ok(loaded)
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
                    // (CHAR(32) too: Django's UUIDField, whose hex texts are counted so a
                    // Django database's convention can be followed.)
                    shapes: super::types::needs_shapes(&c.declared_type)
                        || upper.replace(' ', "") == "CHAR(32)",
                    nocase: c.collation.as_deref() == Some("NOCASE"),
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
                            Error::Source { problem, .. } | Error::Busy { problem, .. } => {
                                problem
                            }
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
