//! Faults injected into a real PostgreSQL while `lite2pg` works: the server killed
//! (SIGKILL of the postmaster and its backends) mid-copy and mid-index-build, and stalled
//! (SIGSTOP) past the stall timeout. Each time lite2pg must exit 3 promptly, naming the
//! target and what to do; after the server is back, `migrate --resume` finishes and
//! `verify` proves every row, with no duplicate and no gap.
//!
//! Each test has a cluster of its own, since it breaks it.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{sqlite, Fixture};
use lite2pg::embedded::EmbeddedPg;

/// `events` (rowid key, enough rows for many small chunks) and `tags` (text key, citext).
fn fixture(rows: i64) -> Fixture {
    let f = sqlite(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TIMESTAMP, v REAL);
         CREATE INDEX events_kind ON events(kind);
         CREATE TABLE tags (name TEXT PRIMARY KEY COLLATE NOCASE, n INTEGER) WITHOUT ROWID;",
    );
    let c = rusqlite::Connection::open(&f.path).unwrap();
    c.execute_batch("BEGIN").unwrap();
    for i in 1..=rows {
        c.execute(
            "INSERT INTO events VALUES (?1, printf('k%d', ?1 % 13), printf('2024-03-%02d 08:00:00', ?1 % 28 + 1), ?1 / 7.0)",
            [i],
        )
        .unwrap();
        if i % 10 == 0 {
            c.execute("INSERT INTO tags VALUES (printf('Tag%06d', ?1), ?1)", [i])
                .unwrap();
        }
    }
    c.execute_batch("COMMIT").unwrap();
    f
}

struct Server {
    pg: EmbeddedPg,
    url: String,
}

fn server() -> Server {
    let pg = EmbeddedPg::start().expect("a throwaway PostgreSQL");
    lite2pg::pg::connect(&pg.url("postgres"))
        .unwrap()
        .batch_execute("create the target", "CREATE DATABASE app")
        .unwrap();
    let url = pg.url("app");
    Server { pg, url }
}

fn lite2pg(args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    common::bin_command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lite2pg")
}

fn finish(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().expect("wait for lite2pg");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Waits until `sql` (one boolean) is true on `url`, or panics after 60 s.
fn wait_for(url: &str, sql: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Ok(c) = lite2pg::pg::connect(url) {
            if let Ok(rows) = c.query("poll", sql, &[]) {
                if rows.first().map(|r| r.get::<_, bool>(0)).unwrap_or(false) {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {sql}");
}

/// Resumes, then verifies on its own, and checks the rows exactly.
fn resume_and_verify(f: &Fixture, s: &Server, rows: i64) {
    let path = f.path.to_str().unwrap();
    let (code, out) = finish(lite2pg(
        &["migrate", path, "--to", &s.url, "--resume", "--quiet"],
        &[],
    ));
    assert_eq!(code, 0, "resume: {out}");
    let (code, out) = finish(lite2pg(&["verify", path, "--to", &s.url], &[]));
    assert_eq!(code, 0, "verify after resume: {out}");
    let c = lite2pg::pg::connect(&s.url).unwrap();
    let got: Vec<String> = c
        .query(
            "count",
            "SELECT count(*)::text || ' ' || count(DISTINCT id)::text || ' ' || sum(id)::text FROM events",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        got,
        vec![format!("{rows} {rows} {}", rows * (rows + 1) / 2)]
    );
}

#[test]
fn a_server_killed_mid_copy_exits_3_and_resume_then_verify_finish_exactly() {
    let rows = 20_000;
    let f = fixture(rows);
    let s = server();
    let child = lite2pg(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &s.url,
            "--quiet",
        ],
        &[
            ("LITE2PG_CHUNK_ROWS", "500"),
            ("LITE2PG_FAILPOINT", "copy.after_chunk=sleep:40"),
        ],
    );
    wait_for(
        &s.url,
        "SELECT to_regclass('lite2pg.chunks') IS NOT NULL \
         AND (SELECT count(*) FROM lite2pg.chunks) >= 5",
    );
    s.pg.signal("KILL").unwrap();
    let killed = Instant::now();
    let (code, out) = finish(child);
    let took = killed.elapsed();
    eprintln!("fault: postmaster killed mid-copy -> exit {code} after {took:?}");
    assert_eq!(code, 3, "{out}");
    assert!(
        took < Duration::from_secs(30),
        "exited {took:?} after the kill"
    );
    assert!(
        out.contains(&format!("127.0.0.1:{}", s.pg.port())),
        "names the target: {out}"
    );
    assert!(out.contains("--resume"), "says what to do: {out}");
    s.pg.restart().unwrap();
    resume_and_verify(&f, &s, rows);
}

#[test]
fn a_server_killed_during_index_builds_exits_3_and_resume_then_verify_finish() {
    let rows = 5_000;
    let f = fixture(rows);
    let s = server();
    let child = lite2pg(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &s.url,
            "--quiet",
        ],
        &[("LITE2PG_FAILPOINT", "build.before=sleep:300")],
    );
    // Index builds run beside the copy: wait for the first one recorded.
    wait_for(
        &s.url,
        "SELECT to_regclass('lite2pg.objects') IS NOT NULL \
         AND EXISTS (SELECT FROM lite2pg.objects WHERE phase = 'indexes')",
    );
    s.pg.signal("KILL").unwrap();
    let killed = Instant::now();
    let (code, out) = finish(child);
    let took = killed.elapsed();
    eprintln!("fault: postmaster killed during index builds -> exit {code} after {took:?}");
    assert_eq!(code, 3, "{out}");
    assert!(took < Duration::from_secs(30));
    assert!(out.contains("--resume"), "{out}");
    s.pg.restart().unwrap();
    resume_and_verify(&f, &s, rows);
}

#[test]
fn a_stalled_server_is_given_up_after_the_stall_timeout_and_resume_finishes() {
    let rows = 20_000;
    let f = fixture(rows);
    let s = server();
    let child = lite2pg(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &s.url,
            "--quiet",
            "--stall-timeout",
            "3",
        ],
        &[
            ("LITE2PG_CHUNK_ROWS", "500"),
            ("LITE2PG_FAILPOINT", "copy.after_chunk=sleep:40"),
        ],
    );
    wait_for(
        &s.url,
        "SELECT to_regclass('lite2pg.chunks') IS NOT NULL \
         AND (SELECT count(*) FROM lite2pg.chunks) >= 5",
    );
    s.pg.signal("STOP").unwrap();
    let stopped = Instant::now();
    let (code, out) = finish(child);
    let took = stopped.elapsed();
    s.pg.signal("CONT").unwrap();
    eprintln!("fault: server stopped mid-copy (stall timeout 3 s) -> exit {code} after {took:?}");
    assert_eq!(code, 3, "{out}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "gave up {took:?} after the stall (limit 3 s)"
    );
    assert!(out.contains("has not answered for 3 s"), "{out}");
    assert!(out.contains("--stall-timeout"), "{out}");
    resume_and_verify(&f, &s, rows);
}

#[test]
fn connecting_to_a_stalled_server_gives_up_after_the_connect_timeout() {
    let f = fixture(10);
    let s = server();
    s.pg.signal("STOP").unwrap();
    let t = Instant::now();
    let (code, out) = finish(lite2pg(
        &[
            "verify",
            f.path.to_str().unwrap(),
            "--to",
            &format!("{}?connect_timeout=2", s.url),
        ],
        &[],
    ));
    let took = t.elapsed();
    s.pg.signal("CONT").unwrap();
    eprintln!("fault: server stopped before connecting (connect_timeout 2 s) -> exit {code} after {took:?}");
    assert_eq!(code, 3, "{out}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(out.contains("no answer within 2 s"), "{out}");
}

/// Counts `table`'s rows on `url`, or `None` while the server is away.
fn count(url: &str, table: &str) -> Option<i64> {
    let c = lite2pg::pg::connect(url).ok()?;
    let rows = c
        .query("count", &format!("SELECT count(*) FROM {table}"), &[])
        .ok()?;
    rows.first().map(|r| r.get(0))
}

/// The application's WAL database the sync tests follow: one table, one row.
fn notes_db() -> Fixture {
    sqlite(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
         INSERT INTO notes (body) VALUES ('first');",
    )
}

/// Waits until a running `sync` has recorded its initial migration's run.
fn wait_for_initial_migration(url: &str) {
    wait_for(
        url,
        "SELECT to_regclass('lite2pg.sync_state') IS NOT NULL \
         AND coalesce((SELECT bool_and(run_id IS NOT NULL) FROM lite2pg.sync_state), false)",
    );
}

/// Stops the server as `pg_ctl stop -m fast` does (every session ends with 57P01) without
/// waiting; returns the postmaster's pid.
fn fast_shutdown(s: &Server) -> String {
    let postmaster = s.pg.postmaster_pid().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &postmaster])
        .status()
        .unwrap();
    postmaster
}

/// Waits until the process `pid` has exited, or panics after 30 s.
fn wait_gone(pid: &str) {
    let t = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Calls `f` every 100 ms until it returns something, or panics after 60 s saying `what`
/// and the last thing `f` said.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let t = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if t.elapsed() > Duration::from_secs(60) => panic!("{what}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn sync_reconnects_after_a_server_restart_and_loses_nothing() {
    let f = notes_db();
    let s = server();
    let path = f.path.to_str().unwrap();
    let child = lite2pg(&["sync", path, "--to", &s.url, "--interval", "50"], &[]);
    // The initial migration is over once its run is recorded in the sync state.
    wait_for_initial_migration(&s.url);
    let app = rusqlite::Connection::open(&f.path).unwrap();
    app.busy_timeout(Duration::from_secs(10)).unwrap();
    let write = |n: i64| {
        for i in 0..n {
            app.execute(
                "INSERT INTO notes (body) VALUES (?1)",
                [format!("note {i}")],
            )
            .unwrap();
        }
    };
    write(50);
    // A fast shutdown ends every session (57P01), as `pg_ctl restart -m fast` does; the
    // application goes on writing meanwhile.
    let postmaster = fast_shutdown(&s);
    write(50);
    wait_gone(&postmaster);
    s.pg.restart().unwrap();
    write(50);
    let t = Instant::now();
    while count(&s.url, "notes") != Some(151) && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = t.elapsed();
    let caught_up = count(&s.url, "notes");
    // Stopped by SIGTERM, it exits cleanly.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let (code, out) = finish(child);
    assert_eq!(caught_up, Some(151), "sync did not catch up:\n{out}");
    eprintln!("fault: server restarted under sync -> caught up {recovered:?} after the restart");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("connection lost"), "{out}");
    assert!(out.contains("reconnected after"), "{out}");
    let (code, out, err) = common::run_bin(&["verify", path, "--to", &s.url], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn sync_survives_a_server_restart_between_its_migration_and_its_first_step() {
    let f = notes_db();
    let s = server();
    let path = f.path.to_str().unwrap();
    // Held right after its initial migration, before it loads what it applies with.
    let (child, err) = common::spawn_to_failpoint(
        &["sync", path, "--to", &s.url, "--interval", "50"],
        &[("LITE2PG_FAILPOINT", "sync.migrated=sleep:1500")],
    );
    let said = std::thread::spawn(move || {
        let mut err = err;
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        rest
    });
    let postmaster = fast_shutdown(&s);
    wait_gone(&postmaster);
    // Before it applied anything, status already says it is reconnecting.
    let down = eventually("status never said reconnecting", || {
        match common::run_bin(&["status", path, "--to", &s.url], &[]) {
            (3, out, _) if out.contains("attempt 1") => Ok(out),
            (code, out, err) => Err(format!("{code}\n{out}\n{err}")),
        }
    });
    assert!(
        down.contains("sync process:     reconnecting since"),
        "{down}"
    );
    s.pg.restart().unwrap();
    let app = rusqlite::Connection::open(&f.path).unwrap();
    app.busy_timeout(Duration::from_secs(10)).unwrap();
    for i in 0..20 {
        app.execute("INSERT INTO notes (body) VALUES (?1)", [format!("n{i}")])
            .unwrap();
    }
    let t = Instant::now();
    while count(&s.url, "notes") != Some(21) && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let caught_up = count(&s.url, "notes");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait_with_output().unwrap().status;
    let out = said.join().unwrap();
    assert_eq!(caught_up, Some(21), "sync did not catch up:\n{out}");
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("connection lost"), "{out}");
    assert!(out.contains("reconnected after"), "{out}");
}

#[test]
fn while_the_server_is_down_status_and_the_json_log_say_sync_is_reconnecting() {
    let f = notes_db();
    let s = server();
    let path = f.path.to_str().unwrap();
    let log = f.path.with_extension("log");
    let child = lite2pg(
        &[
            "sync",
            path,
            "--to",
            &s.url,
            "--interval",
            "50",
            "--log-format",
            "json",
            "--log-file",
            log.to_str().unwrap(),
        ],
        &[],
    );
    wait_for_initial_migration(&s.url);
    let status =
        |format: &str| common::run_bin(&["status", path, "--to", &s.url, "--format", format], &[]);
    // (The applier records itself once the initial migration's report is written.)
    let running = || match status("text") {
        (0, out, _) if out.contains("sync process:     running since") => Ok(()),
        (code, out, err) => Err(format!("{code}\n{out}\n{err}")),
    };
    eventually("status never said running", running);
    // logrotate moves the log away and sends SIGHUP: the next lines go to a new file.
    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    fast_shutdown(&s);
    // The server is down: status cannot read PostgreSQL (exit 3) but says what sync
    // recorded in the SQLite file, once it has failed an attempt.
    let down = eventually("status never said reconnecting", || match status("text") {
        (3, out, _) if out.contains("attempt 1") => Ok(out),
        (code, out, err) => Err(format!("{code}\n{out}\n{err}")),
    });
    assert!(
        down.contains("sync process:     reconnecting since") && down.contains("last error"),
        "{down}"
    );
    s.pg.restart().unwrap();
    eventually("sync did not reconnect", running);
    // The reconnected sync holds the lock again: a second one is still refused.
    let (code, out, err) = common::run_bin(&["sync", path, "--to", &s.url, "--once"], &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("another `lite2pg sync`"), "{err}");
    let (_, prom, _) = status("prometheus");
    assert!(
        prom.contains("lite2pg_sync_reconnecting{schema=\"public\"} 0"),
        "{prom}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    let before = std::fs::read_to_string(&rotated).unwrap();
    assert!(before.contains("\"event\":\"armed\""), "{before}");
    let after = std::fs::read_to_string(&log).expect("SIGHUP reopened the log");
    assert!(
        after.contains("\"event\":\"connection_lost\""),
        "the lines after SIGHUP went to the rotated file: {after}"
    );
    let text = before + &after;
    let events: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v["ts"].is_string() && v["message"].is_string(), "{l}");
            v["event"].as_str().unwrap().to_string()
        })
        .collect();
    for e in [
        "armed",
        "following",
        "connection_lost",
        "reconnecting",
        "reconnected",
        "stopped",
    ] {
        assert!(events.iter().any(|x| x == e), "no {e} event in {events:?}");
    }
}

#[test]
fn sync_follows_a_failover_to_a_lagging_standby_and_applies_what_it_lacked_again() {
    let f = notes_db();
    let s = server();
    let standby = s.pg.standby().expect("a streaming standby");
    let standby_url = standby.url("app");
    // libpq's multi-host form: the first server that accepts writes.
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/app?target_session_attrs=read-write&connect_timeout=3",
        s.pg.port(),
        standby.port()
    );
    let path = f.path.to_str().unwrap();
    let child = lite2pg(&["sync", path, "--to", &url, "--interval", "50"], &[]);
    wait_for_initial_migration(&s.url);
    let app = rusqlite::Connection::open(&f.path).unwrap();
    app.busy_timeout(Duration::from_secs(10)).unwrap();
    let write = |from: i64, n: i64| {
        for i in from..from + n {
            app.execute(
                "INSERT INTO notes (body) VALUES (?1)",
                [format!("note {i}")],
            )
            .unwrap();
        }
    };
    write(0, 50);
    wait_for(&standby_url, "SELECT count(*) = 51 FROM notes");
    // The standby stops receiving: what sync applies next reaches the primary only.
    standby
        .install_file("postgresql.auto.conf", b"primary_conninfo = ''\n")
        .unwrap();
    standby.signal("HUP").unwrap();
    wait_for(
        &standby_url,
        "SELECT count(*) = 0 FROM pg_stat_wal_receiver",
    );
    write(50, 50);
    wait_for(&s.url, "SELECT count(*) = 101 FROM notes");
    // The primary dies; the lagging standby is promoted.
    wait_gone(&fast_shutdown(&s));
    assert_eq!(count(&standby_url, "notes"), Some(51));
    standby.promote().unwrap();
    write(100, 50);
    let t = Instant::now();
    while count(&standby_url, "notes") != Some(151) && t.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = t.elapsed();
    let caught_up = count(&standby_url, "notes");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let (code, out) = finish(child);
    assert_eq!(
        caught_up,
        Some(151),
        "sync did not follow the failover:\n{out}"
    );
    eprintln!(
        "fault: failover to a lagging standby -> caught up {recovered:?} after the promotion"
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reconnected after"), "{out}");
    assert!(
        out.contains("holds changes up to") && out.contains("applying them again"),
        "the lag was not said: {out}"
    );
    let (code, out, err) = common::run_bin(&["verify", path, "--to", &standby_url], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn sync_waits_out_a_long_sqlite_write_lock_and_stops_when_the_file_is_replaced() {
    let f = notes_db();
    let s = server();
    let path = f.path.to_str().unwrap();
    let (code, out) = finish(lite2pg(
        &["sync", path, "--to", &s.url, "--once", "--quiet"],
        &[],
    ));
    assert_eq!(code, 0, "{out}");
    let (code, out) = finish(lite2pg(&["cutover", path, "--to", &s.url], &[]));
    assert_eq!(code, 0, "{out}");
    // PostgreSQL is the primary: sync writes what the application writes there into SQLite,
    // while something holds SQLite's write lock longer than its busy timeout (10 s).
    let child = lite2pg(&["sync", path, "--to", &s.url, "--interval", "50"], &[]);
    std::thread::sleep(Duration::from_secs(2));
    let holder = rusqlite::Connection::open(&f.path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    lite2pg::pg::connect(&s.url)
        .unwrap()
        .batch_execute(
            "the application",
            "INSERT INTO notes (body) VALUES ('on pg')",
        )
        .unwrap();
    std::thread::sleep(Duration::from_secs(13));
    holder.execute_batch("COMMIT").unwrap();
    let reader = rusqlite::Connection::open(&f.path).unwrap();
    let t = Instant::now();
    while reader
        .query_row("SELECT count(*) FROM notes", [], |r| r.get::<_, i64>(0))
        .unwrap()
        != 2
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the write never reached SQLite"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A deploy copies another database in under the same name.
    let old = f.path.with_extension("old");
    std::fs::rename(&f.path, &old).unwrap();
    std::fs::copy(&old, &f.path).unwrap();
    let t = Instant::now();
    let mut child = child;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "sync went on with a replaced file"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, out) = finish(child);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("write lock is held by another connection"),
        "{out}"
    );
    assert!(out.contains("write lock is free again"), "{out}");
    assert!(out.contains("another file now has this name"), "{out}");
}
