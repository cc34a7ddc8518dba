//! Copy progress: counters the reader and the sink bump, shown as indicatif bars on a
//! terminal and as periodic plain lines otherwise (logs, CI).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counters of one table.
#[derive(Debug, Default)]
pub struct TableProgress {
    /// PostgreSQL table name.
    pub name: String,
    /// Rows expected (from the profile).
    pub expected: u64,
    read: AtomicU64,
    written: AtomicU64,
    rejected: AtomicU64,
    bytes: AtomicU64,
    read_done: AtomicBool,
    chunks_sent: AtomicU64,
    chunks_committed: AtomicU64,
    announced: AtomicBool,
}

/// Called once per table when all its rows are committed.
pub type TableDone = Box<dyn Fn(usize) + Send + Sync>;

/// Counters of a whole copy.
pub struct Progress {
    tables: Vec<TableProgress>,
    started: Instant,
    on_table_done: Option<TableDone>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("tables", &self.tables)
            .finish()
    }
}

impl Progress {
    /// Counters for `tables` (name, expected rows); `on_table_done` hears of each table
    /// whose rows are all committed, once (index builds start on it).
    pub fn new(tables: Vec<(String, u64)>, on_table_done: Option<TableDone>) -> Progress {
        Progress {
            tables: tables
                .into_iter()
                .map(|(name, expected)| TableProgress {
                    name,
                    expected,
                    ..Default::default()
                })
                .collect(),
            started: Instant::now(),
            on_table_done,
        }
    }

    /// The reader hands a chunk of table `i` to the sink.
    pub fn chunk_sent(&self, i: usize) {
        if let Some(t) = self.tables.get(i) {
            t.chunks_sent.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Announces table `i` once its reading is done and every chunk sent is committed.
    fn maybe_done(&self, i: usize) {
        let Some(t) = self.tables.get(i) else { return };
        let complete = t.read_done.load(Ordering::SeqCst)
            && t.chunks_committed.load(Ordering::SeqCst) == t.chunks_sent.load(Ordering::SeqCst);
        if complete
            && t.announced
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            if let Some(f) = &self.on_table_done {
                f(i);
            }
        }
    }

    /// The reader read `rows` more rows of table `i`.
    pub fn read(&self, i: usize, rows: u64) {
        if let Some(t) = self.tables.get(i) {
            t.read.fetch_add(rows, Ordering::Relaxed);
        }
    }

    /// The reader finished table `i`.
    pub fn read_done(&self, i: usize) {
        if let Some(t) = self.tables.get(i) {
            t.read_done.store(true, Ordering::SeqCst);
        }
        self.maybe_done(i);
    }

    /// A chunk of table `i` committed.
    pub fn written(&self, i: usize, rows: u64, rejected: u64, bytes: u64) {
        if let Some(t) = self.tables.get(i) {
            t.written.fetch_add(rows, Ordering::Relaxed);
            t.rejected.fetch_add(rejected, Ordering::Relaxed);
            t.bytes.fetch_add(bytes, Ordering::Relaxed);
            t.chunks_committed.fetch_add(1, Ordering::SeqCst);
        }
        self.maybe_done(i);
    }

    fn totals(&self) -> (u64, u64, u64, usize) {
        let mut rows = 0;
        let mut expected = 0;
        let mut bytes = 0;
        let mut done = 0;
        for t in &self.tables {
            let w = t.written.load(Ordering::Relaxed) + t.rejected.load(Ordering::Relaxed);
            rows += w;
            expected += t.expected.max(w);
            bytes += t.bytes.load(Ordering::Relaxed);
            if t.read_done.load(Ordering::Relaxed) && w >= t.read.load(Ordering::Relaxed) {
                done += 1;
            }
        }
        (rows, expected, bytes, done)
    }

    /// Shows progress until the returned handle is finished or dropped.
    pub fn display(self: &Arc<Self>, quiet: bool) -> Display {
        let stop = Arc::new(AtomicBool::new(false));
        let me = self.clone();
        let flag = stop.clone();
        let tty = std::io::stderr().is_terminal();
        let handle = (!quiet).then(|| {
            std::thread::spawn(move || if tty { me.bars(&flag) } else { me.lines(&flag) })
        });
        Display { stop, handle }
    }

    fn bars(&self, stop: &AtomicBool) {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template(
            "{prefix:>20} [{bar:24}] {human_pos:>10}/{human_len:10} rows {msg} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let (_, expected, _, _) = self.totals();
        let overall = multi.add(ProgressBar::new(expected));
        overall.set_style(style.clone());
        overall.set_prefix("all tables");
        let mut bars: Vec<Option<ProgressBar>> = self.tables.iter().map(|_| None).collect();
        loop {
            let finishing = stop.load(Ordering::Relaxed);
            for (t, bar) in self.tables.iter().zip(bars.iter_mut()) {
                let w = t.written.load(Ordering::Relaxed) + t.rejected.load(Ordering::Relaxed);
                let read = t.read.load(Ordering::Relaxed);
                if bar.is_none() && read > 0 {
                    let b = multi.add(ProgressBar::new(t.expected.max(read)));
                    b.set_style(style.clone());
                    b.set_prefix(t.name.chars().take(20).collect::<String>());
                    *bar = Some(b);
                }
                if let Some(b) = bar {
                    b.set_length(t.expected.max(w).max(read));
                    b.set_position(w);
                    b.set_message(format!(
                        "{} {:>9.0} rows/s",
                        mb(t.bytes.load(Ordering::Relaxed)),
                        b.per_sec()
                    ));
                    if t.read_done.load(Ordering::Relaxed) && w >= read && !b.is_finished() {
                        b.finish();
                    }
                }
            }
            let (rows, expected, bytes, _) = self.totals();
            overall.set_length(expected);
            overall.set_position(rows);
            overall.set_message(format!("{} {:>9.0} rows/s", mb(bytes), overall.per_sec()));
            if finishing {
                overall.finish();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn lines(&self, stop: &AtomicBool) {
        let mut last = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let finishing = stop.load(Ordering::Relaxed);
            if finishing || last.elapsed() >= Duration::from_secs(5) {
                last = Instant::now();
                let (rows, expected, bytes, done) = self.totals();
                let secs = self.started.elapsed().as_secs_f64().max(0.001);
                let pct = if expected == 0 {
                    100.0
                } else {
                    rows as f64 * 100.0 / expected as f64
                };
                eprintln!(
                    "lite2pg: copy {pct:.0}%: {rows}/{expected} rows, {}, {:.0} rows/s, tables \
                     done {done}/{}",
                    mb(bytes),
                    rows as f64 / secs,
                    self.tables.len()
                );
            }
            if finishing {
                return;
            }
        }
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A running progress display.
pub struct Display {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    /// Draws the final state and stops.
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop_now();
    }
}
