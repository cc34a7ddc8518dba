//! Row-level comparison of the ranges whose digests differed.

use serde_json::{Map, Value};

use super::canon;
use super::report::{ColumnDiff, Mismatch, MismatchKind, TableVerify};
use super::scan::{Row, Rows, TableSpec};
use super::Pending;

/// Mismatches found so far for one table: the first `max` kept, all counted.
pub struct Found {
    max: usize,
    list: Vec<Mismatch>,
    count: u64,
    pending: u64,
}

impl Found {
    /// Nothing found yet; keep at most `max`.
    pub fn new(max: usize) -> Found {
        Found {
            max,
            list: Vec::new(),
            count: 0,
            pending: 0,
        }
    }

    fn push(&mut self, m: Mismatch) {
        self.count += 1;
        if self.list.len() < self.max {
            self.list.push(m);
        }
    }

    /// Puts what was found into the table's result.
    pub fn finish(self, tv: &mut TableVerify) {
        tv.mismatch_count = self.count;
        tv.mismatches_truncated = self.count > self.list.len() as u64;
        tv.mismatches = self.list;
        tv.pending_rows = self.pending;
    }
}

/// A whole row for the report, by PostgreSQL column names (as keys and columns are).
fn row_object(spec: &TableSpec, row: &Row) -> Value {
    let mut map = Map::new();
    for (c, f) in spec.columns.iter().zip(canon::fields(&row.canon)) {
        map.insert(c.target.clone(), canon::display(f));
    }
    Value::Object(map)
}

fn differing_columns(spec: &TableSpec, s: &Row, p: &Row) -> Vec<ColumnDiff> {
    let sf = canon::fields(&s.canon);
    let pf = canon::fields(&p.canon);
    spec.columns
        .iter()
        .enumerate()
        .filter(|(i, _)| sf.get(*i) != pf.get(*i))
        .map(|(i, c)| ColumnDiff {
            column: c.target.clone(),
            source: sf.get(i).map(|f| canon::display(f)).unwrap_or(Value::Null),
            target: pf.get(i).map(|f| canon::display(f)).unwrap_or(Value::Null),
        })
        .collect()
}

/// Compares the rows both sides hold in the ranges read again.
pub fn rows(
    spec: &TableSpec,
    mut source: Rows,
    mut target: Rows,
    pending: Option<&Pending>,
    found: &mut Found,
) {
    let mut ids: Vec<Vec<u8>> = source.keys().chain(target.keys()).cloned().collect();
    ids.sort();
    ids.dedup();
    let keyed = !spec.key.is_empty();
    for id in ids {
        let mut s = source.remove(&id).unwrap_or_default();
        let mut p = target.remove(&id).unwrap_or_default();
        if keyed {
            if let (Some(a), Some(b)) = (s.first(), p.first()) {
                if a.canon != b.canon {
                    if is_pending(spec, a, pending) {
                        found.pending += 1;
                    } else {
                        found.push(Mismatch {
                            key: b.key.clone(),
                            kind: MismatchKind::Different,
                            columns: differing_columns(spec, a, b),
                            row: None,
                        });
                    }
                }
                s.remove(0);
                p.remove(0);
            }
        } else {
            // Same digest, same row: only the counts can differ. The extra copies named are
            // the last ones by rowid.
            let same = s.len().min(p.len());
            s.sort_by_key(|r| key_order(&r.key));
            p.sort_by_key(|r| key_order(&r.key));
            s.drain(..same);
            p.drain(..same);
        }
        for r in s {
            if is_pending(spec, &r, pending) {
                found.pending += 1;
                continue;
            }
            found.push(Mismatch {
                row: Some(row_object(spec, &r)),
                key: r.key,
                kind: MismatchKind::MissingInTarget,
                columns: Vec::new(),
            });
        }
        for r in p {
            found.push(Mismatch {
                row: Some(row_object(spec, &r)),
                key: r.key,
                kind: MismatchKind::ExtraInTarget,
                columns: Vec::new(),
            });
        }
    }
}

/// Orders rowid keys by number (`{"rowid": 999}` before `{"rowid": 1001}`).
fn key_order(key: &Value) -> (i64, String) {
    let n = key
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    (n, key.to_string())
}

fn is_pending(spec: &TableSpec, row: &Row, pending: Option<&Pending>) -> bool {
    pending.map(|f| f(&spec.source, &row.key)).unwrap_or(false)
}
