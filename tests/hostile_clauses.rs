//! Generated schemas full of clauses PostgreSQL refuses (proptest): defaults of the wrong
//! type, generation expressions over functions with no equivalent or that PostgreSQL
//! cannot run, constant-only expressions, CHECKs using SQLite-only functions. Whatever the
//! mix, `migrate` ends with 0 or 1, every table exists in PostgreSQL, and every row either
//! arrived or is in the reject file.
//!
//! Each case is a real migration into a fresh database: cases per property from
//! `LITE2PG_CLAUSE_CASES` (default 12; `.ci/run` runs more).

mod common;

use common::{run_bin, TestDb};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("LITE2PG_CLAUSE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

fn one_of(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

/// A table's column clauses and CHECKs, each drawn from what PostgreSQL may refuse.
#[derive(Debug, Clone)]
struct Case {
    ts_default: &'static str,
    n_default: &'static str,
    d_default: &'static str,
    generated: &'static str,
    generated_type: &'static str,
    stored: bool,
    checks: Vec<&'static str>,
    rows: Vec<(Option<String>, Option<i64>, Option<f64>)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        one_of(&[
            "(lower('x'))",
            "('2024-01-01' || ' 10:00:00')",
            "(strftime('%Y-%m-%d %H:%M:%f','now'))",
            "(strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
            "(julianday('now'))",
            "(datetime('now','localtime'))",
            "(hex(randomblob(4)))",
            "CURRENT_TIMESTAMP",
        ]),
        one_of(&[
            "('a' || 'b')",
            "(length('abc'))",
            "(upper('x'))",
            "(strftime('%s','now'))",
            "(unixepoch())",
            "(random())",
            "(1 + 2)",
        ]),
        one_of(&[
            "(date('now'))",
            "(strftime('%Y-%m-%d','now'))",
            "('x')",
            "(julianday('now'))",
            "(date('now', '+1 day'))",
        ]),
        one_of(&[
            "abs(a)",
            "'k' || 'v'",
            "printf('%d', n)",
            "a || n",
            "hex(a)",
            "instr(a, 'x')",
            "length(a) + n",
            "lower(a) || upper(a)",
            "coalesce(n, r)",
            "substr(a, 1, 2)",
            "n * r",
            "typeof(a)",
        ]),
        one_of(&["TEXT", "INTEGER", "REAL", "", "TIMESTAMP"]),
        any::<bool>(),
        proptest::collection::vec(
            one_of(&[
                "glob('a*', a) OR a IS NULL",
                "typeof(n) IN ('integer', 'null')",
                "a <> 5",
                "length(a) < 'x'",
                "n >= -1000000 OR n IS NULL",
                "instr(coalesce(a, ''), ';') = 0",
                "a LIKE '%' OR a IS NULL",
                "r <> 'nan'",
            ]),
            0..4,
        ),
        proptest::collection::vec(
            (
                proptest::option::of("[a-z;'x]{0,6}"),
                proptest::option::of(-1000i64..1000),
                proptest::option::of(-1e6f64..1e6),
            ),
            0..6,
        ),
    )
        .prop_map(
            |(
                ts_default,
                n_default,
                d_default,
                generated,
                generated_type,
                stored,
                checks,
                rows,
            )| {
                Case {
                    ts_default,
                    n_default,
                    d_default,
                    generated,
                    generated_type,
                    stored,
                    checks,
                    rows,
                }
            },
        )
}

/// A case built: the SQLite file (kept while `dir` lives) and each table's row count.
struct Built {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
    counts: Vec<(&'static str, i64)>,
}

/// The case as a SQLite file, with the rows SQLite accepts; `None` when SQLite refuses
/// the schema itself.
fn build(c: &Case) -> Option<Built> {
    let checks: String = c.checks.iter().map(|k| format!(", CHECK ({k})")).collect();
    let sql = format!(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, n INTEGER DEFAULT {}, r REAL,
             ts TIMESTAMP DEFAULT {}, d DATE DEFAULT {},
             g {} GENERATED ALWAYS AS ({}) {}{checks});
         CREATE TABLE u (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t (id), note TEXT);
         CREATE INDEX t_g ON t (g);",
        c.n_default,
        c.ts_default,
        c.d_default,
        c.generated_type,
        c.generated,
        if c.stored { "STORED" } else { "VIRTUAL" },
    );
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&path).ok()?;
    conn.execute_batch(&sql).ok()?;
    for (a, n, r) in &c.rows {
        let _ = conn.execute("INSERT INTO t (a, n, r) VALUES (?1, ?2, ?3)", (a, n, r));
    }
    let _ = conn.execute_batch(
        "INSERT INTO t DEFAULT VALUES; INSERT INTO u (t_id, note) SELECT id, a FROM t;",
    );
    let count = |t: &str| -> Option<i64> {
        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .ok()
    };
    let counts = vec![("t", count("t")?), ("u", count("u")?)];
    drop(conn);
    Some(Built { dir, path, counts })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn refused_clauses_never_cost_a_table_or_a_row(c in case()) {
        let Some(Built { dir, path, counts }) = build(&c) else {
            return Ok(());
        };
        let db = TestDb::new();
        let rejects = dir.path().join("rejects.jsonl");
        let (code, out, err) = run_bin(
            &[
                "migrate",
                path.to_str().unwrap(),
                "--to",
                &db.url,
                "--quiet",
                "--reject-file",
                rejects.to_str().unwrap(),
            ],
            &[],
        );
        prop_assert!(code == 0 || code == 1, "exit {code}\n{out}\n{err}");
        let rejected = std::fs::read_to_string(&rejects).unwrap_or_default();
        for (table, rows) in counts {
            let there = db.strings(&format!(
                "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
            ));
            prop_assert_eq!(there, vec!["1".to_string()], "table {} is missing\n{}", table, out);
            let arrived: i64 = db.strings(&format!("SELECT count(*)::text FROM {table}"))[0]
                .parse()
                .unwrap();
            let refused = rejected
                .lines()
                .filter(|l| l.contains(&format!("\"table\":\"{table}\"")))
                .count() as i64;
            prop_assert_eq!(arrived + refused, rows, "rows of {} lost\n{}\n{}", table, out, rejected);
        }
    }
}
