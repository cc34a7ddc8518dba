//! Gives up on a server that stops answering.
//!
//! A stopped or wedged server keeps its TCP connections open, so a session waiting for a
//! reply waits forever, and a statement timeout cannot help (the server is not running
//! it). A separate session pings the server every second; when no ping has been answered
//! for the stall timeout, the process reports it and exits 3 (DESIGN.md rule 7). Long
//! work on a healthy server (an index build of an hour) is not mistaken for a stall: the
//! pings are answered by another backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{connect_async, Target};

/// Stops the pings when dropped.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
}

impl Watchdog {
    /// Starts pinging `target`; after `stall` without an answer, prints why with `advice`
    /// (what to do next) and exits 3.
    pub fn start(target: &Target, stall: Duration, advice: &'static str) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let target = target.clone();
        let spawned = std::thread::Builder::new()
            .name("lite2pg-watchdog".into())
            .spawn(move || watch(&target, stall, advice, &flag));
        if spawned.is_err() {
            eprintln!(
                "lite2pg: warning: no watchdog thread: a stalled server will not be detected"
            );
        }
        Watchdog { stop }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn watch(target: &Target, stall: Duration, advice: &str, stop: &AtomicBool) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let mut client: Option<tokio_postgres::Client> = None;
    let mut last_answer = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let answered = rt.block_on(async {
            if client.is_none() {
                if let Ok(Ok(c)) = tokio::time::timeout(stall, connect_async(target)).await {
                    client = Some(c);
                }
            }
            match &client {
                Some(c) => matches!(
                    tokio::time::timeout(stall, c.simple_query("SELECT 1")).await,
                    Ok(Ok(_))
                ),
                None => false,
            }
        });
        if answered {
            last_answer = Instant::now();
        } else {
            client = None;
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if last_answer.elapsed() >= stall {
            eprintln!(
                "lite2pg: error: {}: the server has not answered for {} s (stopped, overloaded \
                 or unreachable; --stall-timeout sets this limit); {advice}",
                target.display(),
                stall.as_secs()
            );
            std::process::exit(3);
        }
        // A short nap, woken early by a stop.
        for _ in 0..10 {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
