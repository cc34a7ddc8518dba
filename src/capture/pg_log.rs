//! Change capture and guards on the PostgreSQL side.
//!
//! Capture: an `AFTER INSERT OR UPDATE OR DELETE … FOR EACH ROW` trigger per table calls
//! `lite2pg.capture(schema, table, key columns…)`, which appends the row's key, as text, to
//! `lite2pg.pg_changes`. Keys are read through `to_jsonb(row)`, whose text forms do not depend
//! on the session's `DateStyle`. The applier's own session sets `lite2pg.applying`, which the
//! function honours, so nothing lite2pg writes loops back.
//!
//! Guards: `BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE … FOR EACH STATEMENT` triggers that
//! refuse the write with the operator's message, except for lite2pg's own session.
//!
//! Both follow the schema's state in `lite2pg.sync_state`: capture logs only while
//! PostgreSQL is the primary, guards refuse only while SQLite is. So they can be created
//! ahead of a switch, outside its write freeze, and the switch itself is one `UPDATE` of the
//! state: no DDL, which would wait for the table locks of autovacuum or of readers, runs
//! while writers are frozen.

use crate::pg::{quote_ident, quote_literal};

/// Trigger names lite2pg gives PostgreSQL tables.
pub const CAPTURE_TRIGGER: &str = "_lite2pg_capture";
/// The guard trigger's name.
pub const GUARD_TRIGGER: &str = "_lite2pg_guard";

/// Creates (or replaces) the two trigger functions in the control schema.
pub const FUNCTIONS: &str = r#"
CREATE OR REPLACE FUNCTION lite2pg.capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    old_key text[];
    new_key text[];
    o jsonb;
    n jsonb;
    i int;
BEGIN
    IF coalesce(current_setting('lite2pg.applying', true), '') = 'on'
       OR NOT EXISTS (SELECT 1 FROM lite2pg.sync_state
                      WHERE target_schema = TG_ARGV[0] AND primary_side = 'postgresql') THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD);
        old_key := ARRAY[]::text[];
        FOR i IN 2 .. TG_NARGS - 1 LOOP
            old_key := old_key || (o ->> TG_ARGV[i]);
        END LOOP;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW);
        new_key := ARRAY[]::text[];
        FOR i IN 2 .. TG_NARGS - 1 LOOP
            new_key := new_key || (n ->> TG_ARGV[i]);
        END LOOP;
    END IF;
    INSERT INTO lite2pg.pg_changes (target_schema, tbl, op, old_key, new_key)
    VALUES (TG_ARGV[0], TG_ARGV[1], left(TG_OP, 1), old_key, new_key);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION lite2pg.guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    since timestamptz;
    rolled_back boolean;
BEGIN
    IF coalesce(current_setting('lite2pg.applying', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    -- While sync (re)makes the copy (run_id not yet recorded), lite2pg's own load writes.
    SELECT coalesce(rollback_at, created_at), rollback_at IS NOT NULL INTO since, rolled_back
    FROM lite2pg.sync_state
    WHERE target_schema = TG_ARGV[0] AND primary_side = 'sqlite' AND run_id IS NOT NULL;
    IF FOUND AND rolled_back THEN
        RAISE EXCEPTION 'lite2pg: this database was rolled back to SQLite at % UTC; write there, or run lite2pg cutover again',
            to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'lite2pg: SQLite is the primary (lite2pg sync follows it into this copy since % UTC); write to SQLite until lite2pg cutover',
            to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NULL;
END
$fn$;
"#;

/// Arms capture on `table` (qualified), keyed by `key` (PostgreSQL column names). It logs
/// only while PostgreSQL is the primary of `schema`.
pub fn arm_sql(qualified_table: &str, schema: &str, target: &str, key: &[String]) -> String {
    let mut args = vec![quote_literal(schema), quote_literal(target)];
    args.extend(key.iter().map(|k| quote_literal(k)));
    format!(
        "CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {qualified_table} \
         FOR EACH ROW EXECUTE FUNCTION lite2pg.capture({});\n",
        args.join(", "),
        trigger = quote_ident(CAPTURE_TRIGGER),
    )
}

/// Guards `table` (qualified): writes are refused while SQLite is the primary of `schema`.
pub fn guard_sql(qualified_table: &str, schema: &str) -> String {
    format!(
        "CREATE OR REPLACE TRIGGER {trigger} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON \
         {qualified_table} FOR EACH STATEMENT EXECUTE FUNCTION lite2pg.guard({});\n",
        quote_literal(schema),
        trigger = quote_ident(GUARD_TRIGGER),
    )
}
