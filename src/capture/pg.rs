//! Change capture and guards on the PostgreSQL side, used once PostgreSQL is the primary.
//!
//! Capture: an `AFTER INSERT OR UPDATE OR DELETE … FOR EACH ROW` trigger per table calls
//! `lite2pg.capture(schema, table, key columns…)`, which appends the row's key, as text, to
//! `lite2pg.pg_changes`. Keys are read through `to_jsonb(row)`, whose text forms do not depend
//! on the session's `DateStyle`. The applier's own session sets `lite2pg.applying`, which the
//! function honours, so nothing lite2pg writes loops back.
//!
//! Guards: `BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE … FOR EACH STATEMENT` triggers that
//! raise the operator's message, except for lite2pg's own session.

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
    IF coalesce(current_setting('lite2pg.applying', true), '') = 'on' THEN
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
BEGIN
    IF coalesce(current_setting('lite2pg.applying', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'object_not_in_prerequisite_state';
END
$fn$;
"#;

/// Arms capture on `table` (qualified), keyed by `key` (PostgreSQL column names).
pub fn arm_sql(qualified_table: &str, schema: &str, target: &str, key: &[String]) -> String {
    let mut args = vec![quote_literal(schema), quote_literal(target)];
    args.extend(key.iter().map(|k| quote_literal(k)));
    format!(
        "DROP TRIGGER IF EXISTS {trigger} ON {qualified_table};\n\
         CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {qualified_table} \
         FOR EACH ROW EXECUTE FUNCTION lite2pg.capture({});\n",
        args.join(", "),
        trigger = quote_ident(CAPTURE_TRIGGER),
    )
}

/// Guards `table` (qualified) with `message`.
pub fn guard_sql(qualified_table: &str, message: &str) -> String {
    format!(
        "DROP TRIGGER IF EXISTS {trigger} ON {qualified_table};\n\
         CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON \
         {qualified_table} FOR EACH STATEMENT EXECUTE FUNCTION lite2pg.guard({});\n",
        quote_literal(message),
        trigger = quote_ident(GUARD_TRIGGER),
    )
}

/// Drops lite2pg's triggers from `table` (qualified).
pub fn drop_triggers_sql(qualified_table: &str) -> String {
    format!(
        "DROP TRIGGER IF EXISTS {} ON {qualified_table};\n\
         DROP TRIGGER IF EXISTS {} ON {qualified_table};\n",
        quote_ident(CAPTURE_TRIGGER),
        quote_ident(GUARD_TRIGGER),
    )
}
