//! Killed runs and their resumption, through the real binary: a failpoint abort (as
//! `kill -9` does: no destructors, no cleanup) and a real SIGKILL, mid-copy and between
//! phases; the run lock between two runs at once.

mod common;

use std::time::{Duration, Instant};

use common::{run_bin, sqlite, Fixture, TestDb};

/// Three tables: rowid-keyed, `WITHOUT ROWID` with a composite text key, and keyless.
fn fixture(rows: i64) -> Fixture {
    let f = sqlite(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
         CREATE TABLE pairs (a TEXT, b INTEGER, w REAL, PRIMARY KEY (a, b)) WITHOUT ROWID;
         CREATE TABLE loose (x INTEGER, y TEXT);",
    );
    let c = rusqlite::Connection::open(&f.path).unwrap();
    c.execute_batch("BEGIN").unwrap();
    for i in 1..=rows {
        c.execute("INSERT INTO big VALUES (?1, printf('value %d', ?1))", [i])
            .unwrap();
        if i % 4 == 0 {
            c.execute(
                "INSERT INTO pairs VALUES (printf('k%03d', ?1 % 97), ?1, ?1 / 3.0)",
                [i],
            )
            .unwrap();
            c.execute("INSERT INTO loose VALUES (?1 % 5, 'same')", [i])
                .unwrap();
        }
    }
    c.execute_batch("COMMIT").unwrap();
    f
}

fn counts(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT 'big ' || count(*) || ' ' || count(DISTINCT id) || ' ' || sum(id) FROM big \
         UNION ALL SELECT 'pairs ' || count(*) || ' ' || count(DISTINCT (a, b)) FROM pairs \
         UNION ALL SELECT 'loose ' || count(*) || ' ' || count(DISTINCT _lite2pg_rowid) FROM loose",
    )
}

fn expected(rows: i64) -> Vec<String> {
    vec![
        format!("big {rows} {rows} {}", rows * (rows + 1) / 2),
        format!("pairs {} {}", rows / 4, rows / 4),
        format!("loose {} {}", rows / 4, rows / 4),
    ]
}

fn args<'a>(f: &'a Fixture, db: &'a TestDb, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "migrate",
        f.path.to_str().unwrap(),
        "--to",
        db.url.as_str(),
        "--quiet",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn a_run_aborted_mid_copy_resumes_with_no_duplicate_and_no_gap() {
    let f = fixture(20_000);
    let db = TestDb::new();
    let (code, _, err) = run_bin(
        &args(&f, &db, &[]),
        &[
            ("LITE2PG_CHUNK_ROWS", "700"),
            ("LITE2PG_FAILPOINT", "copy.after_chunk=9"),
        ],
    );
    assert_ne!(code, 0, "the failpoint must stop the run: {err}");
    assert!(err.contains("failpoint copy.after_chunk"), "{err}");
    let committed: i64 = db.strings("SELECT count(*)::text FROM lite2pg.chunks")[0]
        .parse()
        .unwrap();
    assert!(committed >= 9, "{committed} chunks committed");
    // Autovacuum is paused on the tables while they load, so it cannot hold the locks the
    // index builds need.
    let paused = "SELECT relname || ' ' || coalesce(array_to_string(reloptions, ','), '-') \
                  FROM pg_class WHERE relname IN ('big', 'pairs', 'loose') ORDER BY relname";
    assert_eq!(
        db.strings(paused),
        vec![
            "big autovacuum_enabled=off",
            "loose autovacuum_enabled=off",
            "pairs autovacuum_enabled=off"
        ]
    );

    // A plain migrate now refuses to clobber the half-done target and says how to resume.
    let (code, _, err) = run_bin(&args(&f, &db, &[]), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--resume"), "{err}");

    let (code, out, err) = run_bin(
        &args(&f, &db, &["--resume"]),
        &[("LITE2PG_CHUNK_ROWS", "500")],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(resumed)"), "{out}");
    // The table cut short was partly copied before: the verification reads its source
    // again rather than trust a digest of only the rows read this time.
    assert!(out.contains("read again: big"), "{out}");
    assert_eq!(counts(&db), expected(20_000));
    assert_eq!(
        db.strings(paused),
        vec!["big -", "loose -", "pairs -"],
        "the finished run gives the tables PostgreSQL's defaults back"
    );
}

#[test]
fn a_run_aborted_before_the_index_phase_resumes_there() {
    let f = fixture(2_000);
    let db = TestDb::new();
    let (code, _, err) = run_bin(
        &args(&f, &db, &[]),
        &[("LITE2PG_FAILPOINT", "phase.indexes")],
    );
    assert_ne!(code, 0, "{err}");
    assert_eq!(
        db.strings("SELECT phase FROM lite2pg.runs"),
        vec!["indexes"]
    );
    let (code, out, err) = run_bin(&args(&f, &db, &["--resume"]), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(counts(&db), expected(2_000));
    assert_eq!(
        db.strings(
            "SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'big'::regclass \
             AND contype = 'p'"
        ),
        vec!["1"]
    );
}

fn wait_for(db: &TestDb, sql: &str, deadline: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < deadline {
        if let Ok(rows) = db.client().query("poll", sql, &[]) {
            if rows.first().map(|r| r.get::<_, bool>(0)).unwrap_or(false) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_sigkilled_run_resumes_and_a_second_run_at_once_is_refused() {
    let f = fixture(40_000);
    let db = TestDb::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lite2pg"))
        .args(args(&f, &db, &[]))
        .env("LITE2PG_CHUNK_ROWS", "100")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(
            &db,
            "SELECT count(*) >= 3 FROM lite2pg.chunks",
            Duration::from_secs(60)
        ),
        "the copy never started"
    );
    // While it runs, a second run into the same schema is refused at once.
    let (code, _, err) = run_bin(&args(&f, &db, &["--resume"]), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is migrating into schema"), "{err}");

    child.kill().unwrap();
    child.wait().unwrap();
    let (code, out, err) = run_bin(&args(&f, &db, &["--resume"]), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(counts(&db), expected(40_000));
}

#[test]
fn a_run_killed_at_the_start_of_each_phase_resumes_and_verifies() {
    let f = fixture(3_000);
    for phase in [
        "schema",
        "data",
        "indexes",
        "attach keys",
        "foreign_keys",
        "views",
        "sequences",
        "verify",
    ] {
        let db = TestDb::new();
        let failpoint = format!("phase.{phase}");
        let (code, _, err) = run_bin(
            &args(&f, &db, &[]),
            &[("LITE2PG_FAILPOINT", failpoint.as_str())],
        );
        assert_ne!(code, 0, "{phase}: the failpoint must stop the run: {err}");
        if phase == "schema" {
            // Killed before creating anything: there is nothing to clobber, and a plain run
            // does the whole migration.
            let (code, out, err) = run_bin(&args(&f, &db, &[]), &[]);
            assert_eq!(code, 0, "{phase}: {out}\n{err}");
        } else {
            let (code, _, err) = run_bin(&args(&f, &db, &[]), &[]);
            assert_eq!(
                code, 2,
                "{phase}: a plain run refuses the half-done target: {err}"
            );
            assert!(err.contains("--resume"), "{phase}: {err}");
            let (code, out, err) = run_bin(&args(&f, &db, &["--resume"]), &[]);
            assert_eq!(code, 0, "{phase}: {out}\n{err}");
        }
        assert_eq!(counts(&db), expected(3_000), "{phase}");
        let (code, out, err) = run_bin(
            &["verify", f.path.to_str().unwrap(), "--to", db.url.as_str()],
            &[],
        );
        assert_eq!(code, 0, "{phase}: verify after resume: {out}\n{err}");
    }
}
