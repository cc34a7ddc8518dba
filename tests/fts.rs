//! FTS tables arrive searchable: the same words find the same rows in SQLite (`MATCH`) and
//! in PostgreSQL (`@@ websearch_to_tsquery`), for an FTS5 table holding its own text and
//! for an external-content one indexed on its content table.

mod common;

use common::{migrate, migrate_request, run_bin, sqlite, Fixture, TestDb};

fn sqlite_ids(f: &Fixture, sql: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(&f.path).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let ids = st
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect();
    ids
}

#[test]
fn an_fts5_table_with_its_own_text_is_searchable_with_the_same_rows() {
    let f = sqlite(
        "CREATE VIRTUAL TABLE docs USING fts5(title, body);
         INSERT INTO docs (rowid, title, body) VALUES
             (10, 'Hello world', 'the first document'),
             (20, 'Another', 'hello again, world'),
             (30, 'Unrelated', 'nothing to see');",
    );
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    assert!(report.ok, "{report:#?}");
    let codes: Vec<&str> = report.findings.iter().map(|x| x.code.as_str()).collect();
    assert!(codes.contains(&"fts.searchable"), "{codes:?}");
    for (words, query) in [
        ("hello", "hello"),
        ("world", "world"),
        ("nothing", "nothing"),
    ] {
        let lite = sqlite_ids(
            &f,
            &format!("SELECT rowid FROM docs WHERE docs MATCH '{words}' ORDER BY rowid"),
        );
        let pg = db.strings(&format!(
            "SELECT rowid::text FROM docs WHERE docs @@ websearch_to_tsquery('simple', '{query}') \
             ORDER BY rowid"
        ));
        assert_eq!(lite, pg, "{words}");
        assert!(!pg.is_empty());
    }
    // Rows written in PostgreSQL are searchable at once: the tsvector is generated.
    db.client()
        .batch_execute(
            "insert",
            "INSERT INTO docs (rowid, title, body) VALUES (40, 'late', 'hello there')",
        )
        .unwrap();
    assert_eq!(
        db.strings(
            "SELECT rowid::text FROM docs WHERE docs @@ websearch_to_tsquery('simple', 'hello') \
             ORDER BY rowid"
        ),
        vec!["10", "20", "40"]
    );
}

#[test]
fn an_external_content_fts_table_indexes_its_content_table_and_its_sync_triggers_go() {
    let f = sqlite(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, extra TEXT);
         CREATE VIRTUAL TABLE notes_fts USING fts5(body, content = 'notes', content_rowid = 'id',
             tokenize = 'porter unicode61');
         CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
             INSERT INTO notes_fts (rowid, body) VALUES (NEW.id, NEW.body);
         END;
         CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
             INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', OLD.id, OLD.body);
         END;
         INSERT INTO notes (id, body) VALUES (1, 'She was running fast'), (2, 'runs daily'),
             (3, 'walking slowly');",
    );
    let db = TestDb::new();
    let report = migrate(&migrate_request(&f, &db));
    assert!(report.ok, "{report:#?}");
    let unneeded = report
        .findings
        .iter()
        .filter(|x| x.code == "trigger.fts_unneeded")
        .count();
    assert_eq!(unneeded, 2, "{:#?}", report.findings);
    // Not copied twice: no table of that name, a view over the content table.
    assert_eq!(
        db.strings("SELECT relkind::text FROM pg_class WHERE relname = 'notes_fts'"),
        vec!["v"]
    );
    for words in ["running", "walk", "daily"] {
        let lite = sqlite_ids(
            &f,
            &format!("SELECT rowid FROM notes_fts WHERE notes_fts MATCH '{words}' ORDER BY rowid"),
        );
        let pg = db.strings(&format!(
            "SELECT rowid::text FROM notes_fts \
             WHERE notes_fts @@ websearch_to_tsquery('english', '{words}') ORDER BY rowid"
        ));
        assert_eq!(lite, pg, "{words}");
        assert!(!pg.is_empty(), "{words}");
    }
    db.client()
        .batch_execute(
            "app",
            "INSERT INTO notes (id, body) VALUES (4, 'he ran and runs')",
        )
        .unwrap();
    assert_eq!(
        db.strings(
            "SELECT rowid::text FROM notes_fts \
             WHERE notes_fts @@ websearch_to_tsquery('english', 'running') ORDER BY rowid"
        ),
        vec!["1", "2", "4"]
    );
}

#[test]
fn plan_shows_the_rewritten_fts_ddl_and_other_virtual_tables_stay_plain() {
    let f = sqlite(
        "CREATE VIRTUAL TABLE old USING fts4(a, b, notindexed=b);
         CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1);",
    );
    let plan = lite2pg::translate::make_plan(
        &f.path,
        &lite2pg::plan::PlanOptions::default(),
        &lite2pg::translate::Check::Off,
    )
    .unwrap();
    let sql = lite2pg::plan::render_sql(&plan);
    assert!(
        sql.contains(
            "\"old\" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, \
             coalesce(\"a\", ''))) STORED"
        ),
        "{sql}"
    );
    assert!(sql.contains("USING gin (\"old\")"), "{sql}");
    let findings = common::findings(&plan);
    assert!(
        findings
            .iter()
            .any(|x| x.starts_with("table.virtual table \"boxes\"")),
        "{findings:#?}"
    );
}

#[test]
fn fts_indexes_follow_the_application_through_sync_and_cutover() {
    let f = sqlite(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         CREATE VIRTUAL TABLE notes_fts USING fts5(body, content = 'notes', content_rowid = 'id');
         CREATE VIRTUAL TABLE tags USING fts5(label);
         CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
             INSERT INTO notes_fts (rowid, body) VALUES (NEW.id, NEW.body);
         END;
         INSERT INTO notes (id, body) VALUES (1, 'first note');
         INSERT INTO tags (rowid, label) VALUES (1, 'urgent');",
    );
    let db = TestDb::new();
    let file = f.path.to_str().unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    // The application writes SQLite; its trigger keeps SQLite's index in step, sync carries
    // the row, and PostgreSQL's generated tsvector indexes it without any trigger.
    let app = rusqlite::Connection::open(&f.path).unwrap();
    app.execute("INSERT INTO notes (id, body) VALUES (2, 'second note')", [])
        .unwrap();
    let (code, out, err) = run_bin(&["sync", file, "--once", "--quiet"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let search = "SELECT rowid::text FROM notes_fts \
                  WHERE notes_fts @@ websearch_to_tsquery('simple', 'note') ORDER BY rowid";
    assert_eq!(
        sqlite_ids(
            &f,
            "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'note' ORDER BY rowid"
        ),
        vec!["1", "2"]
    );
    assert_eq!(db.strings(search), vec!["1", "2"]);
    assert_eq!(
        db.strings(
            "SELECT rowid::text FROM tags WHERE tags @@ websearch_to_tsquery('simple', 'urgent')"
        ),
        vec!["1"]
    );
    // The FTS table holding its own text is compared whole at the switch: unchanged, so
    // the cutover goes through; afterwards the application's writes on PostgreSQL are
    // searchable at once.
    let (code, out, err) = run_bin(&["cutover", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    db.client()
        .batch_execute(
            "app",
            "INSERT INTO notes (id, body) VALUES (3, 'third note')",
        )
        .unwrap();
    assert_eq!(db.strings(search), vec!["1", "2", "3"]);
    // Back to SQLite: the row written on PostgreSQL arrives in the content table with no
    // trigger of SQLite's to index it (they were parked); SQLite's index is rebuilt, so
    // SQLite's search finds it too, and the application's trigger indexes new rows again.
    let (code, out, err) = run_bin(&["rollback", file], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    app.execute("INSERT INTO notes (id, body) VALUES (4, 'fourth note')", [])
        .unwrap();
    assert_eq!(
        sqlite_ids(
            &f,
            "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'note' ORDER BY rowid"
        ),
        vec!["1", "2", "3", "4"]
    );
}
