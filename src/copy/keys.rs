//! Row keys and key ranges: how the copier cuts a table into chunks and finds them again.
//!
//! A table is read in key order (the rowid, or the primary key of a `WITHOUT ROWID` table).
//! Chunks partition the key space: each covers `(lo, hi]`, the first starts unbounded and
//! the last ends unbounded, and each chunk's `lo` is exactly the previous chunk's `hi`.
//! Chunk boundaries are stored in the control schema as JSON, so a resumed run can compute
//! the gaps the killed run left and read only those, with no duplicate and no missing row.

use rusqlite::types::{Value, ValueRef};
use serde_json::{json, Value as Json};

pub use crate::pg::control::Done;

/// A key: one SQLite value per key column.
pub type Key = Vec<Value>;

/// An owned copy of a value read from SQLite.
pub fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_string()),
            // Not UTF-8: kept as bytes; SQLite compares text and blob differently, so the
            // tag records which one it was.
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A key as JSON for the control schema: one tagged value per column.
pub fn to_json(key: &Key) -> Json {
    Json::Array(
        key.iter()
            .map(|v| match v {
                Value::Null => Json::Null,
                Value::Integer(i) => json!({ "i": i }),
                Value::Real(f) => json!({ "r": format!("{:?}", f) }),
                Value::Text(t) => json!({ "t": t }),
                Value::Blob(b) => json!({ "b": hex(b) }),
            })
            .collect(),
    )
}

/// Reads back a key written by [`to_json`].
pub fn from_json(j: &Json) -> Option<Key> {
    j.as_array()?
        .iter()
        .map(|v| {
            if v.is_null() {
                return Some(Value::Null);
            }
            let obj = v.as_object()?;
            let (tag, val) = obj.iter().next()?;
            Some(match tag.as_str() {
                "i" => Value::Integer(val.as_i64()?),
                "r" => Value::Real(val.as_str()?.parse().ok()?),
                "t" => Value::Text(val.as_str()?.to_string()),
                "b" => Value::Blob(unhex(val.as_str()?)?),
                _ => return None,
            })
        })
        .collect()
}

/// A key for people: `{"id": 42}`, used in reports and the reject file.
pub fn display(columns: &[String], key: &Key) -> Json {
    let mut map = serde_json::Map::new();
    for (c, v) in columns.iter().zip(key) {
        let j = match v {
            Value::Null => Json::Null,
            Value::Integer(i) => json!(i),
            Value::Real(f) => json!(format!("{f:?}")),
            Value::Text(t) => json!(t),
            Value::Blob(b) => json!(format!("x'{}'", hex(b))),
        };
        map.insert(c.clone(), j);
    }
    Json::Object(map)
}

/// A key range still to copy, and the order number after which its chunks are numbered.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Exclusive lower bound.
    pub lo: Option<Key>,
    /// Inclusive upper bound.
    pub hi: Option<Key>,
    /// Order number of the chunk just before the gap (0 at the start).
    pub after_ord: i64,
    /// Order number of the chunk just after it (`i64::MAX` at the end).
    pub before_ord: i64,
}

/// Spacing of order numbers on a first run, leaving room for chunks cut on resume.
pub const ORD_STEP: i64 = 1 << 32;

/// The key ranges not yet covered by `done` (sorted by anything; they are sorted by order).
pub fn gaps(done: &[Done]) -> Option<Vec<Gap>> {
    let mut done = done.to_vec();
    done.sort_by_key(|d| d.ord);
    let mut out = Vec::new();
    let mut expect: Option<Json> = None;
    let mut after = 0;
    let mut covered_to_end = false;
    for d in &done {
        if d.lo != expect {
            out.push(Gap {
                lo: match &expect {
                    Some(j) => Some(from_json(j)?),
                    None => None,
                },
                hi: Some(from_json(d.lo.as_ref()?)?),
                after_ord: after,
                before_ord: d.ord,
            });
        }
        after = d.ord;
        match &d.hi {
            Some(h) => expect = Some(h.clone()),
            None => {
                covered_to_end = true;
                break;
            }
        }
    }
    if !covered_to_end {
        out.push(Gap {
            lo: match &expect {
                Some(j) => Some(from_json(j)?),
                None => None,
            },
            hi: None,
            after_ord: after,
            before_ord: i64::MAX,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: i64) -> Json {
        to_json(&vec![Value::Integer(i)])
    }

    #[test]
    fn keys_survive_the_trip_through_json() {
        let key = vec![
            Value::Integer(i64::MIN),
            Value::Real(-0.0),
            Value::Text("é\"".into()),
            Value::Blob(vec![0, 255]),
        ];
        let back = from_json(&to_json(&key)).unwrap();
        assert_eq!(format!("{back:?}"), format!("{key:?}"));
    }

    #[test]
    fn a_fresh_table_is_one_unbounded_gap() {
        let g = gaps(&[]).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].lo.is_none(), g[0].hi.is_none()), (true, true));
    }

    #[test]
    fn gaps_are_the_chunks_a_killed_run_did_not_commit() {
        // Chunks 1 and 3 committed, 2 and 4 (the last) lost.
        let done = [
            Done {
                ord: 3 * ORD_STEP,
                lo: Some(k(200)),
                hi: Some(k(300)),
            },
            Done {
                ord: ORD_STEP,
                lo: None,
                hi: Some(k(100)),
            },
        ];
        let g = gaps(&done).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].lo, Some(vec![Value::Integer(100)]));
        assert_eq!(g[0].hi, Some(vec![Value::Integer(200)]));
        assert_eq!((g[0].after_ord, g[0].before_ord), (ORD_STEP, 3 * ORD_STEP));
        assert_eq!(g[1].lo, Some(vec![Value::Integer(300)]));
        assert_eq!(g[1].hi, None);
        // Everything committed: nothing to do.
        let all = [Done {
            ord: 1,
            lo: None,
            hi: None,
        }];
        assert!(gaps(&all).unwrap().is_empty());
    }
}
