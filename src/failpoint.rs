//! Named crash points for the kill-and-resume tests.
//!
//! `LITE2PG_FAILPOINT=copy.after_chunk=3` aborts the process (no destructors, like
//! `kill -9`) the third time the copier passes `copy.after_chunk`; `=1` or no count aborts
//! the first time. Unset, a failpoint costs one relaxed atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

fn armed() -> &'static Option<(String, u64)> {
    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    ARMED.get_or_init(|| {
        let v = std::env::var("LITE2PG_FAILPOINT").ok()?;
        let (name, count) = match v.split_once('=') {
            Some((n, c)) => (n.to_string(), c.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((name, count.max(1)))
    })
}

/// Passes the failpoint `name`: aborts when it is armed and its count is reached.
pub fn hit(name: &str) {
    let Some((armed_name, count)) = armed() else {
        return;
    };
    if armed_name != name {
        return;
    }
    static HITS: OnceLock<Mutex<HashMap<String, AtomicU64>>> = OnceLock::new();
    let hits = HITS.get_or_init(|| Mutex::new(HashMap::new()));
    let n = match hits.lock() {
        Ok(mut h) => {
            h.entry(name.to_string())
                .or_insert_with(|| AtomicU64::new(0))
                .fetch_add(1, Ordering::SeqCst)
                + 1
        }
        Err(_) => return,
    };
    if n >= *count {
        eprintln!("lite2pg: failpoint {name} reached: aborting as asked by LITE2PG_FAILPOINT");
        std::process::abort();
    }
}
