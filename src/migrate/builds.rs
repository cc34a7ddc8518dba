//! The build pool: keys, indexes and `ANALYZE` on `--jobs` connections, each table's work
//! starting as soon as that table's data is in, while other tables are still copying.
//!
//! Contract: an item runs only after its table was marked ready; among ready items the most
//! expensive runs first; a table's `ANALYZE` waits until none of its builds is pending or
//! running (the two take conflicting locks). Each item is one transaction with its
//! `lite2pg.objects` row (`run_step`), so a resumed run skips finished items.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::pg::control::run_step;
use crate::pg::{connect_target, quote_ident, Target};
use crate::plan::{Constraint, Statement};

/// One unit of build work.
#[derive(Debug, Clone)]
pub struct Build {
    /// Qualified, quoted table it works on.
    pub table: String,
    /// Estimated cost (rows, weighted); the most expensive ready item runs first.
    pub cost: u64,
    /// Control-schema phase: `indexes` or `analyze`.
    pub phase: &'static str,
    /// Control-schema object.
    pub object: String,
    /// The statement.
    pub sql: String,
    /// Leaving it out keeps the data intact.
    pub optional: bool,
}

/// The work for `stmts` and the tables in `analyze`, less what `done` says is finished.
/// Keys become unique-index builds (attached as constraints afterwards).
pub fn plan_builds(
    stmts: &[Statement],
    analyze: &[String],
    cost: &dyn Fn(&str, &str) -> u64,
    done: &HashSet<(String, String)>,
) -> Vec<Build> {
    let mut work = Vec::new();
    for s in stmts {
        match &s.constraint {
            Some(Constraint::Key {
                table,
                name,
                columns,
                ..
            }) => {
                let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
                let sql = format!(
                    "CREATE UNIQUE INDEX {} ON {table} ({})",
                    quote_ident(name),
                    cols.join(", ")
                );
                work.push(Build {
                    table: table.clone(),
                    cost: cost(table, &sql),
                    phase: "indexes",
                    object: format!("index for {}", s.object),
                    sql,
                    optional: s.optional,
                });
            }
            Some(Constraint::Index { table }) => work.push(Build {
                table: table.clone(),
                cost: cost(table, &s.sql),
                phase: "indexes",
                object: s.object.clone(),
                sql: s.sql.clone(),
                optional: s.optional,
            }),
            // Not expected in this phase; run it once everything is in.
            _ => work.push(Build {
                table: String::new(),
                cost: 0,
                phase: "indexes",
                object: s.object.clone(),
                sql: s.sql.clone(),
                optional: s.optional,
            }),
        }
    }
    work.extend(analyze.iter().map(|table| Build {
        table: table.clone(),
        cost: 0,
        phase: "analyze",
        object: format!("statistics of {table}"),
        sql: format!("ANALYZE {table}"),
        optional: true,
    }));
    work.retain(|b| !done.contains(&(b.phase.to_string(), b.object.clone())));
    work
}

/// A build that ran, and PostgreSQL's refusal if it was refused.
pub type Built = (Build, std::result::Result<(), String>);

#[derive(Default)]
struct State {
    pending: Vec<Build>,
    ready: HashSet<String>,
    running: HashMap<String, usize>,
    closed: bool,
    stop: bool,
    built: Vec<Built>,
    fatal: Option<Error>,
}

impl State {
    /// Index of the next item to run, if any is runnable now.
    fn pick(&self) -> Option<usize> {
        let busy = |t: &str| self.running.get(t).copied().unwrap_or(0) > 0;
        let builds_left = |t: &str| {
            busy(t)
                || self
                    .pending
                    .iter()
                    .any(|b| b.table == t && b.phase != "analyze")
        };
        self.pending
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                let ready = self.ready.contains(&b.table) || (b.table.is_empty() && self.closed);
                ready && (b.phase != "analyze" || !builds_left(&b.table))
            })
            .max_by_key(|(_, b)| b.cost)
            .map(|(i, _)| i)
    }

    /// Whether the build just taken may start PostgreSQL's parallel workers: only when it
    /// runs alone. The pool runs one build per core beside the COPY streams, so parallel
    /// workers would only add processes and the merging of their sorts; a lone build at
    /// the end (no copy, no other build running or to come) has the cores to itself.
    /// Called with the build taken out of `pending` and counted in `running`.
    fn alone(&self) -> bool {
        self.closed
            && self.running.values().sum::<usize>() == 1
            && self.pending.iter().all(|b| b.phase == "analyze")
    }
}

/// Connections running builds as tables become ready.
pub struct Pool {
    state: Arc<(Mutex<State>, Condvar)>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `jobs` workers for `work`; nothing runs until its table is [`Pool::ready`].
    pub fn start(target: &Target, run: Uuid, jobs: usize, work: Vec<Build>) -> Pool {
        let state = Arc::new((
            Mutex::new(State {
                pending: work,
                ..State::default()
            }),
            Condvar::new(),
        ));
        let workers = (0..jobs.max(1))
            .map(|_| {
                let state = state.clone();
                let target = target.clone();
                std::thread::spawn(move || worker(&target, run, &state))
            })
            .collect();
        Pool { state, workers }
    }

    /// The table's data is complete: its builds may start.
    pub fn ready(&self, table: &str) {
        mark_ready(&self.state, table);
    }

    /// [`Pool::ready`] as a function other threads can call (the copier's sink).
    pub fn readier(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let state = self.state.clone();
        move |table| mark_ready(&state, table)
    }

    /// Waits for the builds of every ready table (all of them when `all_ready`, after a
    /// complete copy) and returns what ran; the first connection failure is the error.
    pub fn finish(mut self, all_ready: bool) -> Result<Vec<Built>> {
        let (lock, cvar) = &*self.state;
        if let Ok(mut st) = lock.lock() {
            if all_ready {
                let tables: Vec<String> = st.pending.iter().map(|b| b.table.clone()).collect();
                st.ready.extend(tables);
            } else {
                st.stop = true;
            }
            st.closed = true;
        }
        cvar.notify_all();
        for w in std::mem::take(&mut self.workers) {
            let _ = w.join();
        }
        let mut st = lock
            .lock()
            .map_err(|_| Error::Environment("an index build worker panicked".into()))?;
        if let Some(e) = st.fatal.take() {
            return Err(e);
        }
        Ok(std::mem::take(&mut st.built))
    }
}

impl Drop for Pool {
    /// A pool dropped without [`Pool::finish`] (an earlier error) stops its workers after
    /// their current item instead of leaving them waiting.
    fn drop(&mut self) {
        if self.workers.is_empty() {
            return;
        }
        let (lock, cvar) = &*self.state;
        if let Ok(mut st) = lock.lock() {
            st.stop = true;
            st.closed = true;
        }
        cvar.notify_all();
    }
}

fn mark_ready(state: &(Mutex<State>, Condvar), table: &str) {
    let (lock, cvar) = state;
    if let Ok(mut st) = lock.lock() {
        st.ready.insert(table.to_string());
    }
    cvar.notify_all();
}

fn worker(target: &Target, run: Uuid, state: &(Mutex<State>, Condvar)) {
    let (lock, cvar) = state;
    let fail = |e: Error| {
        if let Ok(mut st) = lock.lock() {
            st.fatal.get_or_insert(e);
            st.stop = true;
        }
        cvar.notify_all();
    };
    let mut client = match connect_target(target) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = client.batch_execute(
        "preparing an index build session",
        "SET maintenance_work_mem = '256MB'",
    ) {
        return fail(e);
    }
    // Whether this session's builds may start parallel workers ([`State::alone`]).
    let mut parallel = true;
    loop {
        let (build, alone) = {
            let Ok(mut st) = lock.lock() else { return };
            loop {
                if st.stop {
                    return;
                }
                if let Some(i) = st.pick() {
                    let b = st.pending.swap_remove(i);
                    *st.running.entry(b.table.clone()).or_default() += 1;
                    let alone = st.alone();
                    break (b, alone);
                }
                if st.closed && st.pending.is_empty() {
                    return;
                }
                if st.closed && st.running.values().all(|n| *n == 0) && st.pick().is_none() {
                    // What is left belongs to tables that never became ready.
                    return;
                }
                st = match cvar.wait(st) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
        };
        if alone != parallel && build.phase != "analyze" {
            let sql = if alone {
                "RESET max_parallel_maintenance_workers"
            } else {
                "SET max_parallel_maintenance_workers = 0"
            };
            if let Err(e) = client.batch_execute("preparing an index build session", sql) {
                return fail(e);
            }
            parallel = alone;
        }
        crate::failpoint::hit("build.before");
        let outcome = run_step(
            &mut client,
            run,
            build.phase,
            &build.object,
            &build.sql,
            None,
        );
        let Ok(mut st) = lock.lock() else { return };
        if let Some(n) = st.running.get_mut(&build.table) {
            *n = n.saturating_sub(1);
        }
        match outcome {
            Ok(_) => st.built.push((build, Ok(()))),
            Err(Error::Postgres { message, .. }) => st.built.push((build, Err(message))),
            Err(e) => {
                st.fatal.get_or_insert(e);
                st.stop = true;
            }
        }
        drop(st);
        cvar.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(table: &str, cost: u64, phase: &'static str) -> Build {
        Build {
            table: table.into(),
            cost,
            phase,
            object: format!("{phase} {table} {cost}"),
            sql: String::new(),
            optional: false,
        }
    }

    #[test]
    fn only_ready_tables_run_most_expensive_first_and_analyze_after_their_builds() {
        let mut st = State {
            pending: vec![
                b("a", 10, "indexes"),
                b("b", 99, "indexes"),
                b("a", 50, "indexes"),
                b("a", 0, "analyze"),
            ],
            ..State::default()
        };
        assert_eq!(st.pick(), None, "nothing is ready");
        st.ready.insert("a".into());
        let i = st.pick().unwrap();
        assert_eq!(st.pending[i].cost, 50);
        st.pending.swap_remove(i);
        st.running.insert("a".into(), 1);
        let i = st.pick().unwrap();
        assert_eq!(st.pending[i].cost, 10);
        st.pending.swap_remove(i);
        // Both builds of "a" running: its ANALYZE waits.
        st.running.insert("a".into(), 2);
        assert_eq!(st.pick(), None);
        st.running.insert("a".into(), 0);
        let i = st.pick().unwrap();
        assert_eq!(st.pending[i].phase, "analyze");
    }

    #[test]
    fn builds_start_parallel_workers_only_alone_after_the_copy() {
        let mut st = State {
            pending: vec![b("a", 0, "analyze"), b("b", 5, "indexes")],
            ..State::default()
        };
        st.running.insert("a".into(), 1);
        assert!(!st.alone(), "the copy is still running");
        st.closed = true;
        assert!(!st.alone(), "another build is to come");
        st.pending.retain(|b| b.phase == "analyze");
        assert!(st.alone(), "only an ANALYZE waits, for this very build");
        st.running.insert("b".into(), 1);
        assert!(!st.alone(), "another build is running");
    }
}
