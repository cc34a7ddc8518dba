//! The sample database behind `lite2pg demo`: small, deterministic, and as messy as real
//! SQLite files are (mixed storage classes, dates in several shapes, blobs, NOCASE emails,
//! a partial index, foreign keys, AUTOINCREMENT gaps, a table without a key).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use crate::error::{Error, Result};

const SCHEMA: &str = r#"
CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name VARCHAR(40) NOT NULL,
    signed_up DATETIME DEFAULT CURRENT_TIMESTAMP,
    active BOOLEAN NOT NULL DEFAULT 1,
    score REAL,
    prefs JSON,
    external_id UUID
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    placed_at TEXT NOT NULL,
    total DECIMAL(10,2) NOT NULL CHECK (total >= 0),
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped')),
    deleted INTEGER NOT NULL DEFAULT 0,
    note TEXT
);
CREATE INDEX orders_live_by_customer ON orders(customer_id) WHERE deleted = 0;
CREATE INDEX customers_name_lower ON customers(lower(name));
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    line INTEGER NOT NULL,
    sku TEXT NOT NULL,
    qty INTEGER NOT NULL DEFAULT 1 CHECK (qty > 0),
    PRIMARY KEY (order_id, line)
) WITHOUT ROWID;
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    order_id INTEGER REFERENCES orders(id),
    data BLOB,
    created INTEGER DEFAULT (strftime('%s','now'))
);
CREATE TABLE events (
    at DATETIME,
    kind TEXT,
    payload
);
CREATE VIEW "open orders" AS
    SELECT o.id, c.email, ifnull(o.note, '') AS note, o.total
    FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE o.deleted = 0 AND o.status <> 'shipped';
CREATE TRIGGER orders_touch AFTER UPDATE ON orders BEGIN
    UPDATE orders SET note = coalesce(note, '') WHERE id = NEW.id;
END;
"#;

/// A tiny deterministic generator, so every demo shows the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Writes the sample database to `path` (replacing any file there).
pub fn build_sample(path: &Path) -> Result<()> {
    let e = |err: rusqlite::Error| {
        Error::source(path, format!("cannot build the sample database: {err}"))
    };
    if path.exists() {
        std::fs::remove_file(path)
            .map_err(|err| Error::io(format!("replacing {}", path.display()), err))?;
    }
    let mut conn = Connection::open(path).map_err(e)?;
    conn.execute_batch(SCHEMA).map_err(e)?;
    let tx = conn.transaction().map_err(e)?;
    let mut rng = Lcg(42);
    let names = [
        "Ada", "Grace", "Linus", "Edsger", "Barbara", "Ken", "Margaret", "Dennis",
    ];
    for i in 1..=300i64 {
        let name = format!("{} {}", names[(i % 8) as usize], i);
        let email = if i % 2 == 0 {
            format!("User{i}@Example.com")
        } else {
            format!("user{i}@example.com")
        };
        let signed = match i % 3 {
            0 => format!(
                "2023-{:02}-{:02} 10:{:02}:00",
                1 + i % 12,
                1 + i % 28,
                i % 60
            ),
            1 => format!("2023-{:02}-{:02}T08:30:00", 1 + i % 12, 1 + i % 28),
            _ => format!("2024-01-{:02} 12:00:00.250", 1 + i % 28),
        };
        let active: rusqlite::types::Value = if i % 10 == 0 {
            "true".to_string().into()
        } else {
            (i % 2).into()
        };
        let prefs = if i % 4 == 0 {
            Some(format!("{{\"theme\": \"dark\", \"n\": {i}}}"))
        } else {
            None
        };
        let uuid = format!("{:08x}-0000-4000-8000-{:012x}", i, rng.next(1 << 40));
        tx.execute(
            "INSERT INTO customers (id, email, name, signed_up, active, score, prefs, external_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![i, email, name, signed, active, rng.next(1000) as f64 / 7.0, prefs, uuid],
        )
        .map_err(e)?;
    }
    // AUTOINCREMENT gaps: the highest ids were used and deleted; they must never come back.
    tx.execute("DELETE FROM customers WHERE id > 290", [])
        .map_err(e)?;
    for i in 1..=1200i64 {
        let placed = match i % 4 {
            0 => format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
            1 => format!("2024-{:02}-{:02} 09:15:00", 1 + i % 12, 1 + i % 28),
            2 => format!("{}", 1_700_000_000 + i * 3600),
            _ => format!("{:02}/{:02}/2024", 1 + i % 28, 1 + i % 12),
        };
        let total: rusqlite::types::Value = if i % 5 == 0 {
            (i % 90).into()
        } else {
            ((rng.next(100_000) as f64) / 100.0).into()
        };
        let status = ["new", "paid", "shipped"][(i % 3) as usize];
        let note: Option<String> = match i % 50 {
            0 => Some("gift\0wrap".into()),
            1..=9 => Some(format!("note {i}")),
            _ => None,
        };
        tx.execute(
            "INSERT INTO orders (id, customer_id, placed_at, total, status, deleted, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![i, 1 + (i % 290), placed, total, status, i64::from(i % 17 == 0), note],
        )
        .map_err(e)?;
        for line in 1..=(1 + i % 3) {
            tx.execute(
                "INSERT INTO order_lines (order_id, line, sku, qty) VALUES (?1, ?2, ?3, ?4)",
                params![
                    i,
                    line,
                    format!("SKU-{}", rng.next(500)),
                    1 + rng.next(4) as i64
                ],
            )
            .map_err(e)?;
        }
    }
    for i in 1..=40i64 {
        let data: Vec<u8> = (0..(16 + i * 7)).map(|b| (b * 31 + i) as u8).collect();
        tx.execute(
            "INSERT INTO attachments (id, order_id, data, created) VALUES (?1, ?2, ?3, ?4)",
            params![i, i * 3, data, 1_700_000_000 + i],
        )
        .map_err(e)?;
    }
    for i in 0..200i64 {
        let payload: rusqlite::types::Value = match i % 3 {
            0 => i.into(),
            1 => format!("{{\"n\": {i}}}").into(),
            _ => (i as f64 / 3.0).into(),
        };
        tx.execute(
            "INSERT INTO events (at, kind, payload) VALUES (?1, ?2, ?3)",
            params![
                format!("2024-03-{:02} 10:00:00", 1 + i % 28),
                ["click", "view"][(i % 2) as usize],
                payload
            ],
        )
        .map_err(e)?;
    }
    tx.commit().map_err(e)?;
    Ok(())
}

/// A validated `demo` request.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// Keep the sample database here instead of a temporary file.
    pub keep: Option<PathBuf>,
    /// Report files to write (`.json`, `.md`).
    pub reports: Vec<PathBuf>,
}

/// `lite2pg demo`: builds the sample database and rehearses its migration on a throwaway
/// server. Exits 0 when the rehearsal ran: the sample's rejected rows and findings are the
/// point of the demo, not a failure.
pub fn demo(req: &DemoRequest) -> Result<i32> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let path = match &req.keep {
        Some(p) => p.clone(),
        None => dir.path().join("demo.db"),
    };
    crate::demo::build_sample(&path)?;
    eprintln!(
        "lite2pg demo: built a sample SQLite database with messy data at {}",
        path.display()
    );
    let rejects = dir.path().join("demo.rejects.jsonl");
    let request = crate::migrate::MigrateRequest {
        source: path.clone(),
        target: crate::pg::TargetChoice::Rehearsal,
        options: crate::plan::PlanOptions::default(),
        jobs: crate::migrate::default_jobs(),
        tables: Vec::new(),
        exclude: Vec::new(),
        mode: crate::migrate::Mode::All,
        resume: false,
        replace: false,
        verify: true,
        reject_file: Some(rejects.clone()),
        reports: req.reports.clone(),
        quiet: false,
        stall_timeout: std::time::Duration::from_secs(60),
        source_copy: None,
        chunk_rows: crate::copy::CHUNK_ROWS,
        source_zone: crate::plan::SourceZone::Offset(0),
        truncate: false,
    };
    let (report, _) = crate::migrate::migrate_with_report(&request)?;
    if report.rows_rejected > 0 {
        let lines = std::fs::read_to_string(&rejects)
            .map_err(|e| Error::io(format!("reading {}", rejects.display()), e))?;
        let mut shown = String::from("\nrejected rows (what --reject-file holds):\n");
        for l in lines.lines().take(5) {
            shown.push_str("  ");
            shown.push_str(l);
            shown.push('\n');
        }
        crate::output::write(None, &shown)?;
    }
    if req.keep.is_none() {
        eprintln!(
            "lite2pg demo: nothing was kept. Rehearse your own database with `lite2pg migrate \
             APP.db`, or keep the sample with `lite2pg demo --keep demo.db`."
        );
    }
    Ok(0)
}
