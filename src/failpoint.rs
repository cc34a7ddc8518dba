//! Named crash and delay points for the kill-and-resume and fault tests.
//!
//! `LITE2PG_FAILPOINT=copy.after_chunk=3` aborts the process (no destructors, like
//! `kill -9`) the third time the copier passes `copy.after_chunk`; `=1` or no count aborts
//! the first time. `LITE2PG_FAILPOINT=copy.after_chunk=sleep:50` instead sleeps 50 ms at
//! every pass, so a test can act on the server while a phase is under way. Unset, a
//! failpoint costs one check of a value read once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// What an armed failpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Abort the process at the n-th pass.
    Abort(u64),
    /// Sleep this long at every pass.
    Sleep(Duration),
}

fn parse(v: &str) -> (String, Action) {
    match v.split_once('=') {
        Some((n, a)) => {
            let action = match a.strip_prefix("sleep:") {
                Some(ms) => Action::Sleep(Duration::from_millis(ms.parse().unwrap_or(100))),
                None => Action::Abort(a.parse().unwrap_or(1).max(1)),
            };
            (n.to_string(), action)
        }
        None => (v.to_string(), Action::Abort(1)),
    }
}

fn armed() -> &'static Option<(String, Action)> {
    static ARMED: OnceLock<Option<(String, Action)>> = OnceLock::new();
    ARMED.get_or_init(|| std::env::var("LITE2PG_FAILPOINT").ok().map(|v| parse(&v)))
}

/// Passes the failpoint `name`: aborts or sleeps when it is armed.
pub fn hit(name: &str) {
    let Some((armed_name, action)) = armed() else {
        return;
    };
    if armed_name != name {
        return;
    }
    let count = match action {
        Action::Sleep(d) => {
            // Said, so a test knows when to act on the server.
            eprintln!(
                "lite2pg: failpoint {name} reached: sleeping {} ms as asked by LITE2PG_FAILPOINT",
                d.as_millis()
            );
            std::thread::sleep(*d);
            return;
        }
        Action::Abort(count) => count,
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failpoints_abort_at_a_count_or_sleep_at_every_pass() {
        assert_eq!(parse("a"), ("a".into(), Action::Abort(1)));
        assert_eq!(parse("a=3"), ("a".into(), Action::Abort(3)));
        assert_eq!(
            parse("b.c=sleep:50"),
            ("b.c".into(), Action::Sleep(Duration::from_millis(50)))
        );
    }
}
