//! The control schema's migrations: runs recorded before V4 named their objects only in
//! display form (`table "x"`); V4 reads those names into typed columns once, so
//! `rollback --run` never parses display strings.

mod common;

use common::TestDb;

#[test]
fn v4_reads_the_objects_of_older_runs_into_typed_columns() {
    let db = TestDb::new();
    let client = db.client();
    client
        .batch_execute("creating the schema", "CREATE SCHEMA lite2pg")
        .unwrap();
    for (name, sql) in [
        ("V1", include_str!("../migrations/V1__control_schema.sql")),
        ("V2", include_str!("../migrations/V2__run_plan.sql")),
        ("V3", include_str!("../migrations/V3__sync.sql")),
    ] {
        client.batch_execute(name, sql).unwrap();
    }
    client
        .batch_execute(
            "a run recorded by an older lite2pg",
            r#"INSERT INTO lite2pg.runs (id, source, target_schema, status, phase, options, host, pid)
               VALUES ('00000000-0000-0000-0000-000000000001', 'a.db', 'app', 'done', 'done', '{}', 'h', 1);
               INSERT INTO lite2pg.objects (run_id, phase, object, sql) VALUES
                 ('00000000-0000-0000-0000-000000000001', 'schema', 'schema "app"', ''),
                 ('00000000-0000-0000-0000-000000000001', 'schema', 'extension citext', ''),
                 ('00000000-0000-0000-0000-000000000001', 'schema', 'table "Odd ""name"" here"', ''),
                 ('00000000-0000-0000-0000-000000000001', 'schema', 'table plain', ''),
                 ('00000000-0000-0000-0000-000000000001', 'views', 'view "v"', ''),
                 ('00000000-0000-0000-0000-000000000001', 'indexes', 'index "i"', '');"#,
        )
        .unwrap();
    client
        .batch_execute("V4", include_str!("../migrations/V4__object_names.sql"))
        .unwrap();
    let rows = db.strings(
        "SELECT concat_ws('|', kind, schema_name, name) FROM lite2pg.objects ORDER BY seq",
    );
    assert_eq!(
        rows,
        [
            "schema||app",
            "extension||citext",
            "table|app|Odd \"name\" here",
            "table|app|plain",
            "view|app|v",
            "",
        ]
    );
}
