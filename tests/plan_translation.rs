//! The schema translator against a real PostgreSQL: every rule of the plan, applied and
//! then checked in pg_catalog and by behaviour.

mod common;

use common::{findings, plan_and_apply, sqlite, TestDb};
use lite2pg::plan::IdentPolicy;
use lite2pg::plan::PlanOptions;
use lite2pg::plan::TypeConflicts;

fn column_type(db: &TestDb, table: &str, column: &str) -> String {
    db.strings(&format!(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = 'public.{}'::regclass AND a.attname = '{}'",
        lite2pg::pg::quote_ident(table).replace('\'', "''"),
        column
    ))
    .pop()
    .unwrap_or_default()
}

#[test]
fn the_data_decides_each_column_type() {
    let f = sqlite(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, fp FLOATING POINT, s STRING, r REAL, small SMALLINT, \
           big SMALLINT, price DECIMAL(6,2), wide DECIMAL(4,1), code VARCHAR(3), long_code VARCHAR(3), \
           flag BOOLEAN, born DATE, seen DATETIME, zoned TIMESTAMP, epoch DATETIME, doc JSON, u UUID, \
           ub UUID, pic BLOB, anything);
         INSERT INTO t VALUES (1, 5, '12', 1.5, 3, 70000, 12.5, 123.45, 'abc', 'abcdef', 1, '2024-02-29', \
           '2024-01-05 10:00:00', '2024-01-05T10:00:00Z', 1700000000, '{\"a\": [1]}', \
           '123e4567-e89b-12d3-a456-426614174000', randomblob(16), x'00ff', 7);
         INSERT INTO t VALUES (2, 6, '13', 2.25, 4, 1, 3, 1, 'ab', 'a', 'false', '2024-03-01', \
           '2024-01-05T11:00:00.5', '2024-01-05 10:00:00+02:00', 1700000100, '[]', \
           '123e4567-e89b-12d3-a456-426614174001', randomblob(16), x'01', 8);",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    for (col, want) in [
        ("fp", "bigint"),
        ("s", "bigint"),
        ("r", "double precision"),
        ("small", "smallint"),
        ("big", "integer"),
        ("price", "numeric(6,2)"),
        ("wide", "numeric"),
        ("code", "character varying(3)"),
        ("long_code", "text"),
        ("flag", "boolean"),
        ("born", "date"),
        ("seen", "timestamp without time zone"),
        ("zoned", "timestamp with time zone"),
        ("epoch", "timestamp with time zone"),
        ("doc", "jsonb"),
        ("u", "uuid"),
        ("ub", "uuid"),
        ("pic", "bytea"),
        ("anything", "bigint"),
    ] {
        assert_eq!(column_type(&db, "t", col), want, "column {col}");
    }
    let f = findings(&plan).join("\n");
    assert!(f.contains("long_code") && f.contains("6 characters"), "{f}");
    assert!(f.contains("\"wide\""), "{f}");
}

#[test]
fn mixed_storage_classes_widen_by_default_and_reject_on_request() {
    let f = sqlite(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, v INTEGER, b);
         INSERT INTO m VALUES (1, 10, 1), (2, 20, 'two'), (3, 'thirty', x'03'), (4, 40, 4);",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    assert_eq!(column_type(&db, "m", "v"), "text");
    assert_eq!(column_type(&db, "m", "b"), "bytea");
    assert_eq!(plan.rejected_rows(), 0);
    assert!(findings(&plan)
        .join("\n")
        .contains("with --type-conflicts reject it would be bigint and 1 row(s) rejected"));

    let db2 = TestDb::new();
    let opts = PlanOptions {
        type_conflicts: TypeConflicts::Reject,
        ..Default::default()
    };
    let plan = plan_and_apply(&f, &db2, &opts);
    assert_eq!(column_type(&db2, "m", "v"), "bigint");
    assert_eq!(plan.rejected_rows(), 3, "1 text in v, 2 non-integers in b");
}

#[test]
fn nocase_columns_refuse_case_variant_duplicates_and_match_any_case() {
    let f = sqlite(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL COLLATE NOCASE UNIQUE, nick TEXT);
         CREATE UNIQUE INDEX users_nick ON users(nick COLLATE NOCASE);
         INSERT INTO users VALUES (1, 'Ada@Example.com', 'ada');",
    );
    let db = TestDb::new();
    plan_and_apply(&f, &db, &PlanOptions::default());
    let c = db.client();
    c.batch_execute(
        "insert",
        "INSERT INTO users (email, nick) VALUES ('Ada@Example.com', 'ada')",
    )
    .unwrap();
    let dup = c.batch_execute(
        "insert",
        "INSERT INTO users (email, nick) VALUES ('ADA@example.COM', 'y')",
    );
    let err = dup
        .expect_err("case-variant email must be refused")
        .to_string();
    assert!(err.contains("23505"), "{err}");
    let dup = c.batch_execute(
        "insert",
        "INSERT INTO users (email, nick) VALUES ('z@z', 'ADA')",
    );
    assert!(
        dup.is_err(),
        "case-variant nick must be refused by the NOCASE index"
    );
    assert_eq!(
        db.strings("SELECT nick FROM users WHERE email = 'ada@EXAMPLE.com' ORDER BY id LIMIT 1"),
        vec!["ada"]
    );
}

#[test]
fn partial_and_expression_indexes_keep_predicates_and_expressions() {
    let f = sqlite(
        "CREATE TABLE o (id INTEGER PRIMARY KEY, cust INTEGER, deleted BOOLEAN, name TEXT, dob TEXT);
         INSERT INTO o VALUES (1, 1, 0, 'A', '2000-01-02');
         CREATE INDEX o_live ON o(cust) WHERE deleted = 0;
         CREATE INDEX o_lname ON o(lower(name));
         CREATE INDEX o_dob ON [o](substr(dob, 6)) WHERE [dob] IS NOT NULL;
         CREATE UNIQUE INDEX o_one_live_name ON o(name) WHERE deleted = 0;",
    );
    let db = TestDb::new();
    plan_and_apply(&f, &db, &PlanOptions::default());
    let defs = db
        .strings("SELECT indexdef FROM pg_indexes WHERE tablename = 'o' ORDER BY indexname")
        .join("\n");
    assert!(defs.contains("WHERE (deleted = false)"), "{defs}");
    assert!(defs.contains("lower(name)"), "{defs}");
    assert!(
        defs.contains("substr(dob, 6)") && defs.contains("WHERE (dob IS NOT NULL)"),
        "{defs}"
    );
    assert!(
        defs.contains("CREATE UNIQUE INDEX o_one_live_name"),
        "{defs}"
    );
}

#[test]
fn generated_columns_are_computed_by_postgres() {
    let f = sqlite(
        "CREATE TABLE li (qty INTEGER, price REAL, total REAL GENERATED ALWAYS AS (qty * price) STORED, \
           label TEXT AS (ifnull(upper(substr('x' || qty, 1, 3)), '?')) VIRTUAL);
         INSERT INTO li (qty, price) VALUES (2, 1.5);",
    );
    let db = TestDb::new();
    plan_and_apply(&f, &db, &PlanOptions::default());
    db.client()
        .batch_execute("insert", "INSERT INTO li (qty, price) VALUES (3, 2.5)")
        .unwrap();
    assert_eq!(
        db.strings("SELECT total::text || ' ' || label FROM li"),
        vec!["7.5 X3"]
    );
    let gen = db.strings("SELECT attname FROM pg_attribute WHERE attrelid = 'li'::regclass AND attgenerated = 's' ORDER BY attnum");
    assert_eq!(gen, vec!["total", "label"]);
}

#[test]
fn without_rowid_composite_and_cyclic_foreign_keys_are_kept() {
    let f = sqlite(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id) DEFERRABLE INITIALLY DEFERRED);
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id) ON DELETE SET NULL ON UPDATE CASCADE);
         CREATE TABLE pair (x TEXT NOT NULL, y INTEGER NOT NULL, note TEXT, PRIMARY KEY (x, y)) WITHOUT ROWID;
         CREATE TABLE child (id INTEGER PRIMARY KEY, px TEXT, py INTEGER, FOREIGN KEY (px, py) REFERENCES pair(x, y));
         CREATE TABLE orphan (id INTEGER PRIMARY KEY, gone INTEGER REFERENCES missing(id));",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let fks = db.strings(
        "SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    );
    assert_eq!(fks.len(), 3, "{fks:?}");
    assert!(
        fks.iter()
            .any(|d| d.starts_with("a ") && d.contains("DEFERRABLE INITIALLY DEFERRED")),
        "{fks:?}"
    );
    assert!(
        fks.iter()
            .any(|d| d.starts_with("b ") && d.contains("ON UPDATE CASCADE ON DELETE SET NULL")),
        "{fks:?}"
    );
    assert!(
        fks.iter()
            .any(|d| d.starts_with("child ") && d.contains("REFERENCES pair(x, y)")),
        "{fks:?}"
    );
    let pk = db.strings("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'pair'::regclass AND contype = 'p'");
    assert_eq!(pk, vec!["PRIMARY KEY (x, y)"]);
    assert!(findings(&plan)
        .iter()
        .any(|f| f.starts_with("fk.missing_table")));
}

#[test]
fn injected_and_odd_identifiers_arrive_exactly() {
    let f = sqlite(
        r#"CREATE TABLE t (id INTEGER PRIMARY KEY);
           CREATE TABLE [x"; DROP TABLE t; --] ([a b] TEXT, "Order" INTEGER, `select` TEXT, "MixedCase" INT);
           INSERT INTO t VALUES (1);"#,
    );
    let db = TestDb::new();
    plan_and_apply(&f, &db, &PlanOptions::default());
    let tables =
        db.strings("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    assert_eq!(tables, vec!["t", "x\"; DROP TABLE t; --"]);
    let cols = db.strings(
        "SELECT attname FROM pg_attribute WHERE attrelid = '\"x\"\"; DROP TABLE t; --\"'::regclass AND attnum > 0 ORDER BY attnum",
    );
    assert_eq!(
        cols,
        vec!["a b", "Order", "select", "mixedcase", "_lite2pg_rowid"]
    );
}

#[test]
fn names_over_63_bytes_are_shortened_uniquely_and_reported() {
    let long_a = format!("{}_alpha", "very_long_table_name_".repeat(4));
    let long_b = format!("{}_beta", "very_long_table_name_".repeat(4));
    let f = sqlite(&format!(
        "CREATE TABLE {long_a} (id INTEGER PRIMARY KEY); CREATE TABLE {long_b} (id INTEGER PRIMARY KEY);"
    ));
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let tables = db.strings("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    assert_eq!(tables.len(), 2);
    assert!(tables.iter().all(|t| t.len() <= 63));
    assert_eq!(
        plan.findings
            .iter()
            .filter(|f| f.code == "name.renamed")
            .count(),
        2
    );
}

#[test]
fn preserve_policy_keeps_names_as_written() {
    let f = sqlite("CREATE TABLE Album (AlbumId INTEGER PRIMARY KEY, Title TEXT);");
    let db = TestDb::new();
    let opts = PlanOptions {
        identifiers: IdentPolicy::Preserve,
        ..Default::default()
    };
    plan_and_apply(&f, &db, &opts);
    assert_eq!(
        db.strings("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"),
        vec!["Album"]
    );
}

#[test]
fn defaults_in_every_sqlite_spelling_produce_the_same_values() {
    let f = sqlite(
        r#"CREATE TABLE d (id INTEGER PRIMARY KEY, a INTEGER DEFAULT 0, b TEXT DEFAULT 'it''s', c TEXT DEFAULT "",
             e REAL DEFAULT -1.5, f BOOLEAN DEFAULT 1, g BLOB DEFAULT X'CAFE', h DATETIME DEFAULT CURRENT_TIMESTAMP,
             i TEXT DEFAULT (datetime('now')), j INTEGER DEFAULT (strftime('%s','now')), k INTEGER DEFAULT TRUE,
             l DATE DEFAULT (date('now')), m TEXT DEFAULT NULL, n INTEGER DEFAULT (1 + 2));"#,
    );
    let db = TestDb::new();
    plan_and_apply(&f, &db, &PlanOptions::default());
    let c = db.client();
    c.batch_execute("insert", "INSERT INTO d DEFAULT VALUES")
        .unwrap();
    let row = db.strings(
        "SELECT concat_ws('|', a, b, c, e, f, encode(g, 'hex'), h IS NOT NULL, i ~ '^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$', \
         j > 1600000000, k, l IS NOT NULL, coalesce(m, 'null'), n) FROM d",
    );
    assert_eq!(row, vec!["0|it's||-1.5|t|cafe|t|t|t|1|t|null|3"]);
}

#[test]
fn autoincrement_identity_continues_past_sqlite_sequence() {
    let f = sqlite(
        "CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
         INSERT INTO s (v) VALUES ('a'), ('b'), ('c');
         DELETE FROM s WHERE id = 3;
         CREATE TABLE plain (v TEXT);
         INSERT INTO plain VALUES ('x'), ('y');",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let s = plan.tables.iter().find(|t| t.source == "s").unwrap();
    assert_eq!(s.next_id, Some(4), "sqlite_sequence says 3 was used");
    let c = db.client();
    c.batch_execute("insert", "INSERT INTO s (v) VALUES ('d')")
        .unwrap();
    assert_eq!(db.strings("SELECT id::text FROM s"), vec!["4"]);
    c.batch_execute("insert", "INSERT INTO plain (v) VALUES ('z')")
        .unwrap();
    assert_eq!(
        db.strings("SELECT _lite2pg_rowid::text FROM plain"),
        vec!["3"]
    );
}

#[test]
fn views_are_translated_and_untranslatable_ones_reported() {
    let f = sqlite(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, Name TEXT, tag TEXT, active BOOLEAN);
         INSERT INTO p VALUES (1, 'a', 'x', 1), (2, 'B', NULL, 0), (3, 'c', 'y', 1);
         CREATE VIEW [active names] AS SELECT group_concat(Name, ';') AS names, count(*) AS n FROM p WHERE active = 1 AND ifnull(tag, '') <> '';
         CREATE VIEW second AS SELECT n FROM [active names];
         CREATE VIEW bad AS SELECT printf('%d', id) FROM p;",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    db.client()
        .batch_execute("rows", "INSERT INTO p (name, tag, active) VALUES ('a', 'x', true), ('B', NULL, false), ('c', 'y', true)")
        .unwrap();
    assert_eq!(
        db.strings("SELECT names || ' ' || n FROM \"active names\""),
        vec!["a;c 2"]
    );
    assert_eq!(db.strings("SELECT n::text FROM second"), vec!["2"]);
    let bad = plan
        .findings
        .iter()
        .find(|f| f.code == "view.not_translated")
        .expect("bad view reported");
    assert!(bad.sql.as_deref().unwrap_or("").contains("printf"));
}

#[test]
fn checks_are_enforced_and_untranslatable_ones_reported() {
    let f = sqlite(
        "CREATE TABLE c (id INTEGER PRIMARY KEY, qty INTEGER CHECK (qty > 0), status TEXT CHECK (status IN ('a', 'b')), \
           email TEXT CHECK (email LIKE '%@%'), t TEXT CHECK (typeof(t) = 'text'));",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let c = db.client();
    assert!(c
        .batch_execute("insert", "INSERT INTO c (qty) VALUES (0)")
        .is_err());
    assert!(c
        .batch_execute("insert", "INSERT INTO c (status) VALUES ('z')")
        .is_err());
    c.batch_execute(
        "insert",
        "INSERT INTO c (qty, status, email) VALUES (1, 'a', 'X@Y')",
    )
    .unwrap();
    assert!(findings(&plan)
        .iter()
        .any(|f| f.starts_with("check.not_translated") && f.contains("typeof")));
}

#[test]
fn triggers_are_translated_and_plan_shows_their_ddl() {
    let f = sqlite(
        "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE log (x INTEGER);
         CREATE TRIGGER a_log AFTER INSERT ON a BEGIN INSERT INTO log VALUES (NEW.id); END;",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    assert!(
        plan.findings
            .iter()
            .any(|f| f.code == "trigger.translated" && f.object.contains("a_log")),
        "{:#?}",
        findings(&plan)
    );
    assert!(lite2pg::plan::render_sql(&plan).contains("CREATE TRIGGER \"a_log\" AFTER INSERT"));
    assert_eq!(
        db.strings("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"),
        vec!["a_log".to_string()]
    );
    db.client()
        .batch_execute("insert", "INSERT INTO a (id) VALUES (7)")
        .unwrap();
    assert_eq!(db.strings("SELECT x::text FROM log"), vec!["7".to_string()]);
}

#[test]
fn rows_that_cannot_be_carried_are_counted_as_rejects() {
    let f = sqlite(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, t TEXT NOT NULL);
         INSERT INTO r VALUES (1, 'ok'), (2, 'nul' || char(0) || 'byte'), (3, CAST(x'ff' AS TEXT));",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    assert_eq!(plan.rejected_rows(), 2);
    assert!(plan
        .findings
        .iter()
        .any(|f| f.severity == lite2pg::plan::Severity::Error && f.message.contains("NUL")));
}

#[test]
fn foreign_key_columns_get_comparable_types_when_one_side_holds_text() {
    let f = sqlite(
        "CREATE TABLE unit (code INTEGER_OR_TEXT PRIMARY KEY, name TEXT);
         INSERT INTO unit VALUES (1, 'metre'), ('FT', 'foot');
         CREATE TABLE reading (id INTEGER PRIMARY KEY, unit_code INTEGER_OR_TEXT REFERENCES unit(code));
         INSERT INTO reading VALUES (1, 1), (2, 1);",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    assert_eq!(column_type(&db, "reading", "unit_code"), "text");
    assert_eq!(
        db.strings("SELECT count(*)::text FROM pg_constraint WHERE contype = 'f'"),
        vec!["1"]
    );
    assert!(!findings(&plan).iter().any(|f| f.starts_with("fk.")));
}

#[test]
fn a_table_named_with_a_backslash_before_a_quote_keeps_its_check_and_nocase() {
    // Such names must not print through sqlparser, but the table's own CREATE statement is
    // still read for its CHECK and COLLATE clauses: nothing may be dropped silently.
    let f = sqlite(
        r#"CREATE TABLE "a\""b" (id INTEGER PRIMARY KEY, v TEXT NOT NULL CHECK (length(v) > 0) COLLATE NOCASE);
           INSERT INTO "a\""b" VALUES (1, 'x');"#,
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let create = &plan.ddl.tables[0].sql;
    assert!(create.contains("CHECK ("), "{create}");
    assert!(create.contains("citext"), "{create}");
    assert_eq!(
        db.strings(r#"SELECT count(*)::text FROM pg_constraint WHERE contype = 'c' AND conrelid = '"a\""b"'::regclass"#),
        vec!["1"]
    );
}

#[test]
fn a_type_finding_shows_a_value_that_breaks_the_rule() {
    let f = sqlite(
        r#"CREATE TABLE t (id INTEGER PRIMARY KEY, doc JSON, u UUID, flag BOOLEAN);
           INSERT INTO t VALUES (1, '{"a": [1, 2, {"b": null}]}', '123e4567-e89b-12d3-a456-426614174000', 'true'),
                                (2, '{broken', 'not-a-uuid', 'maybe');"#,
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let all = findings(&plan).join("\n");
    for shown in [
        "not every value is JSON jsonb can hold, e.g. {broken",
        "not every value is a UUID, e.g. not-a-uuid",
        "values other than 0/1 and boolean spellings, e.g. maybe",
    ] {
        assert!(all.contains(shown), "{shown}\n{all}");
    }
}

#[test]
fn a_nocase_column_with_letters_beyond_ascii_says_citext_folds_more() {
    let f = sqlite(
        "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE, nick TEXT COLLATE NOCASE);
         INSERT INTO u VALUES (1, 'École@x.org', 'ann'), (2, 'bob@x.org', 'Bob'), (3, '→@x.org', 'Cy');",
    );
    let db = TestDb::new();
    let plan = plan_and_apply(&f, &db, &PlanOptions::default());
    let all = findings(&plan).join("\n");
    assert!(
        all.contains("1 value(s) hold letters beyond ASCII that have a case, e.g. École@x.org"),
        "the arrow has no case, É has: {all}"
    );
    assert_eq!(
        all.matches("beyond ASCII").count(),
        1,
        "nick is ASCII only: {all}"
    );
}
