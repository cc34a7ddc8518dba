//! Hostile and malformed input, generated (proptest): adversarial identifiers (quotes,
//! semicolons, comment markers, Unicode, over-long names), random nested expressions in
//! CHECK constraints, defaults, indexes and views, and damaged files. The translator and
//! the introspection must never panic, and no name or expression may break out of its
//! quoting: every statement of the plan tokenizes as PostgreSQL SQL into exactly one
//! statement with no comment in it. Damaged files are refused with an error, never a panic.
//!
//! Cases per property: `LITE2PG_PROPTEST_CASES` (default 48; `.ci/run` runs more).
//! Failures found are kept by proptest in `tests/hostile.proptest-regressions` and replayed
//! first on every run.

mod common;

use lite2pg::plan::{Plan, PlanOptions};
use proptest::prelude::*;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

fn cases() -> u32 {
    std::env::var("LITE2PG_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// Names an attacker would choose: quotes, statement ends, comment markers, Unicode.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
        proptest::collection::vec(
            prop_oneof![
                Just("\"".to_string()),
                Just("'".to_string()),
                Just(";".to_string()),
                Just("--".to_string()),
                Just("/*".to_string()),
                Just("*/".to_string()),
                Just(" ".to_string()),
                Just("\\".to_string()),
                Just("é".to_string()),
                Just("漢".to_string()),
                Just("🚀".to_string()),
                Just("$1".to_string()),
                "[a-zA-Z0-9]{1,4}",
            ],
            1..8,
        )
        .prop_map(|parts| parts.concat()),
        "[a-z]{64,90}",
    ]
}

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A random SQLite expression over `cols`, nested up to `depth`.
fn expr(cols: Vec<String>, depth: u32) -> BoxedStrategy<String> {
    let c2 = cols.clone();
    let leaf = prop_oneof![
        (-1000i64..1000).prop_map(|i| i.to_string()),
        "[a-z';\"-]{0,6}".prop_map(|s| lit(&s)),
        Just("NULL".to_string()),
        proptest::sample::select(c2).prop_map(|c| q(&c)),
    ];
    leaf.prop_recursive(depth, 64, 3, move |inner| {
        prop_oneof![
            (
                inner.clone(),
                proptest::sample::select(vec!["+", "-", "*", "||", "=", "<", "<>", "AND", "OR"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (
                proptest::sample::select(vec![
                    "abs", "lower", "upper", "length", "coalesce", "trim"
                ]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("CASE WHEN {a} THEN {b} ELSE {c} END")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} IN ({b}, 1, 'x')")),
            inner.clone().prop_map(|a| format!("NOT ({a})")),
            inner.prop_map(|a| format!("-({a})")),
        ]
    })
    .boxed()
}

#[derive(Debug, Clone)]
struct Case {
    table: String,
    columns: Vec<(String, &'static str)>,
    check: String,
    default: String,
    index: String,
    view: String,
}

fn case() -> impl Strategy<Value = Case> {
    (
        ident(),
        proptest::collection::vec(
            (
                ident(),
                proptest::sample::select(vec![
                    "INTEGER",
                    "TEXT",
                    "REAL",
                    "BLOB",
                    "NUMERIC(10,2)",
                    "VARCHAR(20)",
                    "DATETIME",
                    "JSON",
                    "BOOLEAN",
                    "",
                    "TEXT COLLATE NOCASE",
                ]),
            ),
            1..6,
        ),
        ident(),
        ident(),
    )
        .prop_flat_map(|(table, columns, index, view)| {
            // SQLite compares column names case-insensitively: keep one of each.
            let mut seen = std::collections::HashSet::new();
            let columns: Vec<(String, &'static str)> = columns
                .into_iter()
                .filter(|(c, _)| seen.insert(c.to_lowercase()))
                .collect();
            let names: Vec<String> = columns.iter().map(|(c, _)| c.clone()).collect();
            (
                Just(table),
                Just(columns),
                expr(names.clone(), 4),
                expr(Vec::from([names[0].clone()]), 2),
                Just(index),
                Just(view),
            )
        })
        .prop_map(|(table, columns, check, default, index, view)| Case {
            table,
            columns,
            check,
            // A default may not refer to columns: use a literal-only expression.
            default: if default.contains('"') {
                "0".into()
            } else {
                default
            },
            index,
            view,
        })
}

/// Builds the case as a SQLite file; `None` when SQLite itself refuses the schema.
fn build(c: &Case) -> Option<common::Fixture> {
    let cols: Vec<String> = c
        .columns
        .iter()
        .enumerate()
        .map(|(i, (n, t))| {
            let mut d = format!("{} {t}", q(n));
            if i == 0 {
                d.push_str(&format!(" DEFAULT ({})", c.default));
            }
            d
        })
        .collect();
    let first = q(&c.columns[0].0);
    let sql = format!(
        "CREATE TABLE {} ({}, CHECK ({}));
         CREATE INDEX {} ON {} ({first}) WHERE {};
         CREATE VIEW {} AS SELECT {first}, {} AS e FROM {};",
        q(&c.table),
        cols.join(", "),
        c.check,
        q(&c.index),
        q(&c.table),
        c.check,
        q(&c.view),
        c.check,
        q(&c.table)
    );
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&path).ok()?;
    conn.execute_batch(&sql).ok()?;
    // A row or two, inserted only if the CHECK lets them in.
    let _ = conn.execute_batch(&format!("INSERT INTO {} DEFAULT VALUES", q(&c.table)));
    let _ = conn.execute_batch(&format!(
        "INSERT INTO {} ({first}) VALUES ('it''s; -- /* x */')",
        q(&c.table)
    ));
    drop(conn);
    Some(common::Fixture::from_parts(dir, path))
}

fn plan_of(path: &std::path::Path) -> Plan {
    let (schema, profiles) = lite2pg::translate::load(path).expect("a valid file loads");
    lite2pg::translate::build_plan("app.db", &schema, &profiles, &PlanOptions::default())
}

/// Every statement is one statement, with no comment: nothing broke out of its quotes.
fn assert_contained(plan: &Plan) {
    let d = &plan.ddl;
    for s in d
        .prelude
        .iter()
        .chain(&d.tables)
        .chain(&d.indexes)
        .chain(&d.foreign_keys)
        .chain(&d.views)
        .chain(&d.sequences)
    {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, &s.sql)
            .tokenize()
            .unwrap_or_else(|e| panic!("{} does not tokenize: {e}\n{}", s.object, s.sql));
        for t in &tokens {
            match t {
                Token::SemiColon => panic!("a `;` in {}: {}", s.object, s.sql),
                Token::Whitespace(Whitespace::SingleLineComment { .. })
                | Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                    panic!("a comment in {}: {}", s.object, s.sql)
                }
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn adversarial_names_and_expressions_never_panic_nor_break_out_of_quotes(c in case()) {
        if let Some(f) = build(&c) {
            let plan = plan_of(&f.path);
            assert_contained(&plan);
            // Names longer than PostgreSQL's 63 bytes are shortened, never cut mid-character.
            for t in &plan.tables {
                prop_assert!(t.target.len() <= 63, "{}", t.target);
                for col in &t.columns {
                    prop_assert!(col.target.len() <= 63, "{}", col.target);
                }
            }
        }
    }

    #[test]
    fn damaged_files_are_refused_with_an_error_never_a_panic(
        cut in 0usize..40_000,
        flips in proptest::collection::vec((0usize..40_000, any::<u8>()), 0..12),
    ) {
        let good = damaged_base();
        let mut bytes = good.clone();
        for (at, b) in &flips {
            if *at < bytes.len() {
                bytes[*at] ^= b | 1;
            }
        }
        bytes.truncate(cut.min(bytes.len()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.db");
        std::fs::write(&path, &bytes).unwrap();
        // Ok (the damage missed) or an input error; a panic fails the test.
        if let Err(e) = lite2pg::translate::load(&path) {
            prop_assert!(matches!(e.exit_code(), 2 | 3), "{e}");
        }
    }
}

/// A small valid database of several pages, made once.
fn damaged_base() -> Vec<u8> {
    static BASE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let f = common::sqlite(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, t TEXT, r REAL, b BLOB);
             CREATE INDEX a_t ON a(t);
             CREATE TABLE b (k TEXT PRIMARY KEY, v JSON) WITHOUT ROWID;
             CREATE VIEW v AS SELECT t FROM a;",
        );
        let c = rusqlite::Connection::open(&f.path).unwrap();
        c.execute_batch("PRAGMA journal_mode = DELETE").unwrap();
        for i in 0..300 {
            c.execute(
                "INSERT INTO a VALUES (?1, printf('text %d', ?1), ?1 / 3.0, randomblob(20))",
                [i],
            )
            .unwrap();
            c.execute(
                "INSERT INTO b VALUES (printf('k%d', ?1), '{\"x\": 1}')",
                [i],
            )
            .unwrap();
        }
        drop(c);
        std::fs::read(&f.path).unwrap()
    })
    .clone()
}

#[test]
fn random_bytes_and_an_empty_file_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [0usize, 1, 100, 512, 4096, 65_536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let path = dir.path().join(format!("random{len}.db"));
        std::fs::write(&path, &bytes).unwrap();
        let e = lite2pg::translate::load(&path).expect_err("random bytes are not a database");
        assert_eq!(e.exit_code(), 2, "{e}");
    }
}

#[test]
fn a_very_deep_expression_is_reported_not_a_stack_overflow() {
    let mut e = "x".to_string();
    for _ in 0..400 {
        e = format!("({e} + 1)");
    }
    let f = common::sqlite(&format!(
        "CREATE TABLE t (x INTEGER, y INTEGER DEFAULT 0, CHECK ({e} > 0));
         CREATE VIEW v AS SELECT {e} AS deep FROM t;"
    ));
    let plan = plan_of(&f.path);
    assert_contained(&plan);
    let codes: Vec<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"check.not_translated"), "{codes:?}");
    assert!(codes.contains(&"view.not_translated"), "{codes:?}");
}

#[test]
fn two_thousand_columns_plan_and_are_reported_beyond_postgresql_limit() {
    let cols: Vec<String> = (0..2000).map(|i| format!("c{i} INTEGER")).collect();
    let f = common::sqlite(&format!("CREATE TABLE wide ({});", cols.join(", ")));
    let plan = plan_of(&f.path);
    assert_contained(&plan);
    assert_eq!(
        plan.tables[0].columns.len(),
        2000 + 1,
        "every column, plus the added rowid"
    );
    assert!(
        plan.findings
            .iter()
            .any(|f| f.code == "table.too_many_columns"
                && f.severity == lite2pg::plan::Severity::Error
                && f.message.contains("2001 columns")),
        "{:?}",
        plan.findings.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
}
