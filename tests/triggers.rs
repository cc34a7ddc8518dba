//! SQLite triggers carried as PostgreSQL triggers: the same statements run on the SQLite
//! file and on the migrated database leave the same rows, and a guard refuses on both with
//! the same message.

mod common;

use common::{migrate, migrate_request, sqlite, Fixture, TestDb};

/// Tables and the columns compared, first column the ordering key.
const TABLES: &[(&str, &[&str])] = &[
    ("items", &["id", "name", "qty", "version"]),
    ("audit", &["id", "item_id", "what", "qty"]),
    ("parents", &["id", "children"]),
    ("children", &["id", "parent_id", "label"]),
];

/// A row query both databases read the same way: every column as text, `NULL` spelled out.
fn dump_sql(table: &str, cols: &[&str]) -> String {
    let parts: Vec<String> = cols
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), 'NULL')"))
        .collect();
    format!(
        "SELECT {} FROM {table} ORDER BY {}",
        parts.join(" || '|' || "),
        cols[0]
    )
}

fn sqlite_rows(f: &Fixture, table: &str, cols: &[&str]) -> Vec<String> {
    let c = rusqlite::Connection::open(&f.path).unwrap();
    let mut st = c.prepare(&dump_sql(table, cols)).unwrap();
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

fn assert_same_rows(f: &Fixture, db: &TestDb, tables: &[(&str, &[&str])], when: &str) {
    for (t, cols) in tables {
        let lite = sqlite_rows(f, t, cols);
        let pg = db.strings(&dump_sql(t, cols));
        assert_eq!(lite, pg, "table {t} differs {when}");
    }
}

/// Runs `sql` on both sides; returns each side's error message, if any.
fn run_both(f: &Fixture, db: &TestDb, sql: &str) -> (Option<String>, Option<String>) {
    let c = rusqlite::Connection::open(&f.path).unwrap();
    let lite = c.execute_batch(sql).err().map(|e| e.to_string());
    let pg = db
        .client()
        .batch_execute("test statement", sql)
        .err()
        .map(|e| e.to_string());
    (lite, pg)
}

const SCHEMA: &str = "
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0,
                    version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE audit (id INTEGER PRIMARY KEY, item_id INTEGER, what TEXT, qty INTEGER);
CREATE TABLE parents (id INTEGER PRIMARY KEY, children INTEGER NOT NULL DEFAULT 0);
CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER, label TEXT);
CREATE VIEW item_names AS SELECT id, name FROM items;

-- An audit row per insert, and per change of qty.
CREATE TRIGGER items_audit_insert AFTER INSERT ON items FOR EACH ROW BEGIN
    INSERT INTO audit (item_id, what, qty) VALUES (NEW.id, 'insert', NEW.qty);
END;
CREATE TRIGGER items_audit_qty AFTER UPDATE OF qty ON items
WHEN OLD.qty <> NEW.qty BEGIN
    INSERT INTO audit (item_id, what, qty) VALUES (NEW.id, 'qty ' || OLD.qty || '->' || NEW.qty, NEW.qty);
END;
-- Bumps the version of its own table: recursive_triggers is off in SQLite, so its own
-- UPDATE does not fire it again.
CREATE TRIGGER items_version AFTER UPDATE ON items BEGIN
    UPDATE items SET version = version + 1 WHERE id = NEW.id;
END;
-- Guards: a plain RAISE with WHERE, a CASE, and one over a FROM.
CREATE TRIGGER items_no_negative BEFORE INSERT ON items
BEGIN
    SELECT RAISE(ABORT, 'qty must not be negative') WHERE NEW.qty < 0;
END;
CREATE TRIGGER items_no_negative_update BEFORE UPDATE OF qty ON items
BEGIN
    SELECT CASE WHEN NEW.qty < 0 THEN RAISE(ABORT, 'qty must not be negative')
                WHEN NEW.qty > 1000 THEN RAISE(FAIL, 'qty too large') END;
END;
CREATE TRIGGER items_unique_name BEFORE INSERT ON items
BEGIN
    SELECT RAISE(ROLLBACK, 'name ''' || NEW.name || ''' is taken') FROM items i WHERE i.name = NEW.name;
END;
-- RAISE(IGNORE) skips the row.
CREATE TRIGGER items_skip BEFORE INSERT ON items WHEN NEW.name LIKE 'skip%'
BEGIN
    SELECT RAISE(IGNORE);
END;
-- Counters follow their children; a manual cascade.
CREATE TRIGGER children_count_insert AFTER INSERT ON children BEGIN
    UPDATE parents SET children = children + 1 WHERE id = NEW.parent_id;
END;
CREATE TRIGGER children_count_delete AFTER DELETE ON children BEGIN
    UPDATE parents SET children = children - 1 WHERE id = OLD.parent_id;
END;
CREATE TRIGGER parents_cascade AFTER DELETE ON parents FOR EACH ROW BEGIN
    DELETE FROM children WHERE parent_id = OLD.id;
    INSERT OR IGNORE INTO audit (id, what) VALUES (1000 + OLD.id, 'parent gone');
END;
-- Writes through a view.
CREATE TRIGGER item_names_insert INSTEAD OF INSERT ON item_names BEGIN
    INSERT INTO items (id, name, qty) VALUES (NEW.id, upper(NEW.name), 7);
END;

INSERT INTO items (id, name, qty) VALUES (1, 'bolt', 10), (2, 'nut', 20);
UPDATE items SET qty = 11 WHERE id = 1;
INSERT INTO parents (id) VALUES (1), (2);
INSERT INTO children (id, parent_id, label) VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c');
";

fn migrated() -> (Fixture, TestDb, lite2pg::migrate::RunReport) {
    let f = sqlite(SCHEMA);
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    (f, db, report)
}

#[test]
fn each_trigger_form_leaves_the_same_rows_on_both_sides() {
    let (f, db, report) = migrated();
    assert!(report.ok, "{report:#?}");
    let not_translated: Vec<&String> = report
        .findings
        .iter()
        .filter(|x| x.code.contains("refused") || x.code == "trigger.not_translated")
        .map(|x| &x.message)
        .collect();
    assert!(not_translated.is_empty(), "{not_translated:#?}");
    // The copy fired nothing: the rows the triggers made in SQLite arrive once.
    assert_same_rows(&f, &db, TABLES, "after the migration");

    for sql in [
        "INSERT INTO items (id, name, qty) VALUES (3, 'washer', 5)",
        "UPDATE items SET qty = 6 WHERE id = 3",
        "UPDATE items SET name = 'big bolt' WHERE id = 1",
        "UPDATE items SET qty = qty WHERE id = 2",
        "INSERT INTO items (id, name, qty) VALUES (4, 'skip me', 1)",
        "INSERT INTO item_names (id, name) VALUES (5, 'gear')",
        "INSERT INTO children (id, parent_id, label) VALUES (4, 2, 'd')",
        "DELETE FROM children WHERE id = 1",
        "DELETE FROM parents WHERE id = 2",
    ] {
        let (lite, pg) = run_both(&f, &db, sql);
        assert_eq!((lite.as_deref(), pg.as_deref()), (None, None), "{sql}");
        assert_same_rows(&f, &db, TABLES, &format!("after `{sql}`"));
    }
}

#[test]
fn a_guard_refuses_on_both_sides_with_the_same_message() {
    let (f, db, report) = migrated();
    assert!(report.ok, "{report:#?}");
    for (sql, message) in [
        (
            "INSERT INTO items (id, name, qty) VALUES (9, 'x', -1)",
            "qty must not be negative",
        ),
        (
            "UPDATE items SET qty = -5 WHERE id = 1",
            "qty must not be negative",
        ),
        ("UPDATE items SET qty = 5000 WHERE id = 1", "qty too large"),
        (
            "INSERT INTO items (id, name, qty) VALUES (9, 'nut', 1)",
            "name 'nut' is taken",
        ),
    ] {
        let (lite, pg) = run_both(&f, &db, sql);
        let lite = lite.unwrap_or_else(|| panic!("SQLite accepted `{sql}`"));
        let pg = pg.unwrap_or_else(|| panic!("PostgreSQL accepted `{sql}`"));
        assert!(lite.contains(message), "SQLite: {lite}");
        assert!(pg.contains(message), "PostgreSQL: {pg}");
        assert!(
            pg.contains("23000"),
            "a constraint failure, as in SQLite: {pg}"
        );
        assert_same_rows(&f, &db, TABLES, &format!("after the refused `{sql}`"));
    }
}

#[test]
fn a_trigger_without_a_translation_is_reported_with_its_reason_and_the_rest_are_made() {
    let f = sqlite(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, sort TEXT);
         CREATE TABLE log (id INTEGER PRIMARY KEY, msg TEXT);
         CREATE TRIGGER t_sort AFTER INSERT ON t BEGIN
             UPDATE t SET sort = app_sort_key(NEW.name) WHERE id = NEW.id;
         END;
         CREATE TRIGGER t_log AFTER INSERT ON t BEGIN
             INSERT INTO log (msg) VALUES ('added ' || NEW.name);
         END;",
    );
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    let left: Vec<String> = report
        .findings
        .iter()
        .filter(|x| x.code == "trigger.not_translated")
        .map(|x| format!("{}: {}", x.object, x.message))
        .collect();
    assert_eq!(left.len(), 1, "{left:#?}");
    assert!(
        left[0].contains("t_sort") && left[0].contains("app_sort_key"),
        "{left:?}"
    );
    db.client()
        .batch_execute("insert", "INSERT INTO t (id, name) VALUES (1, 'x')")
        .unwrap();
    assert_eq!(
        db.strings("SELECT msg FROM log"),
        vec!["added x".to_string()]
    );
}

#[test]
fn rollback_of_the_run_drops_the_trigger_functions_too() {
    let (f, db, report) = migrated();
    assert!(report.ok, "{report:#?}");
    let count = "SELECT count(*)::text FROM pg_proc WHERE proname LIKE 'lite2pg_trigger_%'";
    assert_ne!(db.strings(count), vec!["0".to_string()]);
    let (code, out, err) = common::run_bin(
        &[
            "rollback",
            &f.path.display().to_string(),
            "--run",
            &report.run_id,
            "--to",
            &db.url,
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(db.strings(count), vec!["0".to_string()]);
}

#[test]
fn a_before_trigger_that_changes_its_own_row_is_warned_about() {
    let f = sqlite(
        "CREATE TABLE parents (id INTEGER PRIMARY KEY, children INTEGER DEFAULT 0);
         CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER);
         CREATE TRIGGER count_down AFTER DELETE ON children BEGIN
             UPDATE parents SET children = children - 1 WHERE id = OLD.parent_id;
         END;
         CREATE TRIGGER cascade BEFORE DELETE ON parents BEGIN
             DELETE FROM children WHERE parent_id = OLD.id;
         END;",
    );
    let plan = lite2pg::translate::make_plan(
        &f.path,
        &lite2pg::plan::PlanOptions::default(),
        &lite2pg::translate::Check::Off,
    )
    .unwrap();
    let warned: Vec<String> = common::findings(&plan)
        .into_iter()
        .filter(|x| x.starts_with("trigger.changes_own_row"))
        .collect();
    assert_eq!(warned.len(), 1, "{:#?}", common::findings(&plan));
    assert!(
        warned[0].contains("cascade") && warned[0].contains("27000"),
        "{warned:?}"
    );
}

#[test]
fn verify_reports_a_trigger_dropped_or_disarmed_after_the_migration() {
    let (f, db, report) = migrated();
    assert!(report.ok, "{report:#?}");
    let verify = || {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("report.json");
        let (code, out, err) = common::run_bin(
            &[
                "verify",
                f.path.to_str().unwrap(),
                "--to",
                &db.url,
                "--report",
                json.to_str().unwrap(),
            ],
            &[],
        );
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let findings: Vec<String> = r["schema_findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{}: {} / {}", s["object"], s["expected"], s["found"]))
            .collect();
        (code, findings, format!("{out}{err}"))
    };
    let (code, findings, out) = verify();
    assert_eq!((code, findings.len()), (0, 0), "{findings:?} {out}");
    db.client()
        .batch_execute(
            "tamper",
            "DROP TRIGGER items_version ON items; \
             ALTER TABLE children DISABLE TRIGGER children_count_insert",
        )
        .unwrap();
    let (code, findings, out) = verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        findings.contains(
            &"\"trigger \\\"items_version\\\" on \\\"items\\\"\": \"present\" / \"missing\""
                .to_string()
        ),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|s| s.contains("children_count_insert") && s.contains("\"armed\" / \"disarmed\"")),
        "{findings:?}"
    );
}

/// The schema of the dual-write test: an audit row per insert, a counter per child.
const SYNCED: &str = "PRAGMA journal_mode = WAL;
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0,
                    version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE audit (id INTEGER PRIMARY KEY, item_id INTEGER, what TEXT, qty INTEGER);
CREATE TABLE parents (id INTEGER PRIMARY KEY, children INTEGER NOT NULL DEFAULT 0);
CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER, label TEXT);
CREATE TRIGGER items_audit_insert AFTER INSERT ON items BEGIN
    INSERT INTO audit (item_id, what, qty) VALUES (NEW.id, 'insert', NEW.qty);
END;
CREATE TRIGGER children_count_insert AFTER INSERT ON children BEGIN
    UPDATE parents SET children = children + 1 WHERE id = NEW.parent_id;
END;
CREATE TRIGGER items_guard BEFORE INSERT ON items BEGIN
    SELECT RAISE(ABORT, 'qty must not be negative') WHERE NEW.qty < 0;
END;
INSERT INTO items (id, name, qty) VALUES (1, 'bolt', 10);
INSERT INTO parents (id) VALUES (1);
INSERT INTO children (id, parent_id) VALUES (1, 1);";

#[test]
fn through_sync_cutover_and_rollback_only_the_primarys_triggers_fire() {
    let f = sqlite(SYNCED);
    let db = TestDb::new();
    let file = f.path.to_str().unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let lite2pg = |args: &[&str]| {
        let (code, out, err) = common::run_bin(args, &env);
        assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
        format!("{out}\n{err}")
    };
    let app_sqlite = |sql: &str| {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c.execute_batch(sql).unwrap();
    };
    let enabled = || {
        db.strings("SELECT string_agg(DISTINCT tgenabled::text, ',') FROM pg_trigger WHERE tgname IN ('items_audit_insert', 'children_count_insert', 'items_guard')")
    };
    let sqlite_triggers = || {
        let c = rusqlite::Connection::open(&f.path).unwrap();
        c.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name NOT LIKE '\\_lite2pg\\_%' ESCAPE '\\'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };

    // SQLite is the primary: its triggers act, PostgreSQL's are disarmed and the applier's
    // rows arrive once. The triggers are disarmed as soon as they are made, so the initial
    // migration's own check finds them as sync wants them.
    let said = lite2pg(&["sync", file, "--once"]);
    assert!(
        !said.contains("schema:") && said.contains("MIGRATED AND VERIFIED"),
        "{said}"
    );
    assert_eq!(enabled(), vec!["D".to_string()]);
    app_sqlite(
        "INSERT INTO items (id, name, qty) VALUES (2, 'nut', 5);
         INSERT INTO children (id, parent_id) VALUES (2, 1);",
    );
    lite2pg(&["sync", file, "--once", "--quiet"]);
    assert_same_rows(&f, &db, TABLES, "after SQLite's writes were applied");
    assert_eq!(db.strings("SELECT children::text FROM parents"), vec!["2"]);
    lite2pg(&["verify", file]);

    // Cutover: PostgreSQL's triggers armed, SQLite's parked; the application's writes on
    // PostgreSQL fire them once and come back to SQLite once.
    lite2pg(&["cutover", file]);
    assert_eq!(enabled(), vec!["O".to_string()]);
    assert_eq!(sqlite_triggers(), 0);
    db.client()
        .batch_execute(
            "application writes",
            "INSERT INTO items (id, name, qty) VALUES (3, 'washer', 1);
             INSERT INTO children (id, parent_id) VALUES (3, 1);",
        )
        .unwrap();
    let refused = db
        .client()
        .batch_execute(
            "guarded write",
            "INSERT INTO items (id, name, qty) VALUES (4, 'x', -1)",
        )
        .unwrap_err()
        .to_string();
    assert!(refused.contains("qty must not be negative"), "{refused}");
    lite2pg(&["sync", file, "--once", "--quiet"]);
    assert_same_rows(&f, &db, TABLES, "after PostgreSQL's writes came back");
    assert_eq!(db.strings("SELECT count(*)::text FROM audit"), vec!["3"]);
    assert_eq!(db.strings("SELECT children::text FROM parents"), vec!["3"]);

    // Rollback: SQLite's triggers act again, PostgreSQL's are disarmed.
    lite2pg(&["rollback", file]);
    assert_eq!(enabled(), vec!["D".to_string()]);
    assert_eq!(sqlite_triggers(), 3);
    app_sqlite("INSERT INTO items (id, name, qty) VALUES (5, 'gear', 2);");
    lite2pg(&["sync", file, "--once", "--quiet"]);
    assert_same_rows(&f, &db, TABLES, "after the rollback");
    assert_eq!(db.strings("SELECT count(*)::text FROM audit"), vec!["4"]);
    lite2pg(&["verify", file]);

    // Finish: both sides whole, PostgreSQL's triggers armed.
    lite2pg(&["finish", file]);
    assert_eq!(enabled(), vec!["O".to_string()]);
    assert_eq!(sqlite_triggers(), 3);
}
