//! `cutover` and `rollback` killed at every step (failpoints that abort the process, like
//! `kill -9`), including between their two commits. After each kill the next command
//! settles the switch (capture/settle.rs) and leaves exactly one primary: the guards agree
//! with it (the primary takes the application's writes, the other side refuses them), the
//! data verifies, sync carries on, and the next switch works.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{run_bin, sqlite, TestDb};

const SCHEMA: &str = "PRAGMA journal_mode = WAL;
    CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL UNIQUE, qty INTEGER);
    INSERT INTO items (sku, qty) VALUES ('A', 1), ('B', 2), ('C', 3);";

/// Runs lite2pg on `db`, with `failpoint` armed when given.
fn lite2pg(args: &[&str], db: &TestDb, failpoint: Option<&str>) -> (i32, String, String) {
    let mut env = vec![("DATABASE_URL", db.url.as_str())];
    if let Some(fp) = failpoint {
        env.push(("LITE2PG_FAILPOINT", fp));
    }
    run_bin(args, &env)
}

fn ok(args: &[&str], db: &TestDb) -> String {
    let (code, out, err) = lite2pg(args, db, None);
    assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
    out
}

fn app(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// Which side takes the application's writes: each side is tried, and exactly one must
/// take them (the other's guard refuses, naming the primary).
fn writable_side(path: &Path, db: &TestDb, sku: &str) -> &'static str {
    let on_sqlite = app(path).execute(
        "INSERT INTO items (sku, qty) VALUES (?1, 1)",
        [format!("{sku}-sqlite")],
    );
    let on_postgres = db.client().batch_execute(
        "the application on PostgreSQL",
        &format!("INSERT INTO items (sku, qty) VALUES ('{sku}-pg', 1)"),
    );
    match (on_sqlite, on_postgres) {
        (Ok(_), Err(e)) => {
            assert!(
                e.to_string().contains("SQLite is the primary")
                    || e.to_string().contains("rolled back to SQLite"),
                "{e}"
            );
            "sqlite"
        }
        (Err(e), Ok(())) => {
            assert!(e.to_string().contains("cut over to PostgreSQL"), "{e}");
            "postgresql"
        }
        (a, b) => panic!("not exactly one writable side: SQLite {a:?}, PostgreSQL {b:?}"),
    }
}

/// The primary PostgreSQL records, and what the command that read it settled.
fn status(path: &Path, db: &TestDb) -> (String, Option<String>) {
    let out = ok(&["status", path.to_str().unwrap(), "--format", "json"], db);
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        s["primary"].as_str().unwrap_or_default().to_string(),
        s["settled"].as_str().map(str::to_string),
    )
}

/// A synced copy with writes on SQLite carried; with `cut_over`, PostgreSQL is the primary
/// and has taken a write of its own.
fn synced(cut_over: bool) -> (common::Fixture, TestDb) {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    let path = f.path.to_str().unwrap();
    ok(&["sync", path, "--once", "--quiet"], &db);
    app(&f.path)
        .execute("UPDATE items SET qty = 10 WHERE sku = 'A'", [])
        .unwrap();
    ok(&["sync", path, "--once", "--quiet"], &db);
    if cut_over {
        ok(&["cutover", path], &db);
        db.client()
            .batch_execute(
                "the application on PostgreSQL",
                "INSERT INTO items (sku, qty) VALUES ('P', 5)",
            )
            .unwrap();
    }
    (f, db)
}

/// Kills `command` at `failpoint`, then checks the next command's settlement: `primary`
/// afterwards, a consistent pair of guards, verified data, sync, and the next switch.
fn killed_at(command: &str, failpoint: &str, primary: &str) {
    let (f, db) = synced(command == "rollback");
    let path = f.path.to_str().unwrap();
    let (code, out, err) = lite2pg(&[command, path], &db, Some(failpoint));
    assert!(
        code != 0 && code != 1,
        "{failpoint}: the process was to die there, exit {code}\n{out}\n{err}"
    );
    assert!(
        err.contains(&format!("failpoint {failpoint} reached")),
        "{err}"
    );
    let (side, settled) = status(&f.path, &db);
    assert_eq!(side, primary, "{failpoint}: settled {settled:?}");
    // A kill after the switch recorded itself is settled, and says how; one before it
    // left nothing to settle (each database rolled its open transaction back).
    let marked = !matches!(
        failpoint,
        "cutover.armed"
            | "cutover.frozen"
            | "cutover.verified"
            | "cutover.sequences"
            | "rollback.drained"
    );
    assert_eq!(settled.is_some(), marked, "{failpoint}: {settled:?}");
    // The data as the kill left it verifies: nothing was lost or half-applied.
    ok(&["verify", path], &db);
    assert_eq!(
        writable_side(&f.path, &db, failpoint),
        primary,
        "{failpoint}"
    );
    ok(&["sync", path, "--once", "--quiet"], &db);
    ok(&["verify", path], &db);
    // And the next switch works, the other way.
    let next = if primary == "sqlite" {
        "cutover"
    } else {
        "rollback"
    };
    ok(&[next, path], &db);
    ok(&["verify", path], &db);
    let (side, settled) = status(&f.path, &db);
    assert_ne!(side, primary, "{failpoint}: {next} switched");
    assert_eq!(settled, None);
}

#[test]
fn a_cutover_killed_before_either_commit_is_undone_and_sqlite_stays_primary() {
    for fp in [
        "cutover.armed",
        "cutover.frozen",
        "cutover.verified",
        "cutover.sequences",
        "cutover.marked",
        "cutover.before_commit",
    ] {
        killed_at("cutover", fp, "sqlite");
    }
}

#[test]
fn a_cutover_killed_between_or_after_its_commits_is_completed() {
    for fp in ["cutover.between_commits", "cutover.committed"] {
        killed_at("cutover", fp, "postgresql");
    }
}

#[test]
fn a_rollback_killed_before_either_commit_is_undone_and_postgresql_stays_primary() {
    for fp in [
        "rollback.drained",
        "rollback.marked",
        "rollback.locked",
        "rollback.verified",
        "rollback.guarded",
        "rollback.prepared",
    ] {
        killed_at("rollback", fp, "postgresql");
    }
}

#[test]
fn a_rollback_killed_between_or_after_its_commits_is_completed() {
    for fp in ["rollback.between_commits", "rollback.committed"] {
        killed_at("rollback", fp, "sqlite");
    }
}

#[test]
fn the_switch_asked_again_after_a_kill_between_its_commits_finishes_it() {
    let (f, db) = synced(false);
    let path = f.path.to_str().unwrap();
    lite2pg(&["cutover", path], &db, Some("cutover.between_commits"));
    let out = ok(&["cutover", path], &db);
    assert!(
        out.contains("a cutover was interrupted after SQLite committed it")
            && out.contains("done, postgresql is the primary"),
        "{out}"
    );
    lite2pg(&["rollback", path], &db, Some("rollback.between_commits"));
    // sync settles too, and then follows the primary it leaves.
    let (code, out, err) = lite2pg(&["sync", path, "--once"], &db, None);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("a rollback was interrupted after PostgreSQL committed it"),
        "{err}"
    );
    assert_eq!(status(&f.path, &db).0, "sqlite");
    assert_eq!(writable_side(&f.path, &db, "again"), "sqlite");
}

#[test]
fn status_beside_a_running_cutover_shows_it_in_flight_and_leaves_it_alone() {
    let (f, db) = synced(false);
    let path = f.path.to_str().unwrap().to_string();
    let url = db.url.clone();
    // The cutover pauses right after recording itself, holding the switch lock.
    let cutover = std::thread::spawn(move || {
        run_bin(
            &["cutover", &path, "--max-freeze", "30"],
            &[
                ("DATABASE_URL", url.as_str()),
                ("LITE2PG_FAILPOINT", "cutover.marked=sleep:3000"),
            ],
        )
    });
    let t = std::time::Instant::now();
    let seen = loop {
        let flight = db.strings("SELECT coalesce(switching, '') FROM lite2pg.sync_state");
        if flight == ["cutover"] {
            break true;
        }
        if t.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(seen, "the cutover never recorded itself");
    let out = ok(&["status", f.path.to_str().unwrap()], &db);
    assert!(out.contains("switch in flight: cutover"), "{out}");
    assert!(!out.contains("settled now"), "{out}");
    let (code, out, err) = cutover.join().unwrap();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(status(&f.path, &db), ("postgresql".to_string(), None));
}
