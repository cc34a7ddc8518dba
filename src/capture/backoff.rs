//! Reconnecting's pace and its news, shared by `sync`'s start-up and its applier: the
//! backoff between attempts and the lines that say how it ended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::journal::{Journal, Level};
use crate::error::Error;

/// Says that reconnecting stopped after `--retry-for`, with the last error.
pub(crate) fn say_gave_up(log: &mut Journal, started: Instant, attempts: u32, last: &Error) {
    log.log(
        Level::Error,
        "gave_up",
        &format!(
            "gave up reconnecting after {:.0} s (--retry-for): {last}",
            started.elapsed().as_secs_f64()
        ),
        serde_json::json!({ "attempts": attempts, "error": last.to_string() }),
    );
}

/// Says that a reconnection succeeded, after how many attempts and how long.
pub(crate) fn say_reconnected(log: &mut Journal, started: Instant, attempts: u32) {
    let seconds = started.elapsed().as_secs_f64();
    log.info(
        "reconnected",
        &format!(
            "reconnected after {attempts} attempt(s), {seconds:.1} s; applying from the \
             recorded position"
        ),
        serde_json::json!({ "attempts": attempts, "seconds": seconds }),
    );
}

/// Waits before reconnection attempt `attempt` (1, 2, ...): 0.5 s doubling, capped at 30 s.
/// False when a signal asked sync to stop meanwhile.
pub(crate) fn back_off(attempt: u32, stop: &AtomicBool) -> bool {
    let wait = Duration::from_millis(500u64 << attempt.min(6)).min(Duration::from_secs(30));
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}
