-- What a `--data-only` run holds for its load on tables it did not make: the target's
-- foreign keys (dropped, with the definition to add them back) and its enabled user
-- triggers (disabled). The run restores them after the load; a resumed run finds them
-- here, and `rollback --run` restores what a run that did not finish still holds.
CREATE TABLE lite2pg.held (
    run_id       uuid NOT NULL REFERENCES lite2pg.runs ON DELETE CASCADE,
    table_schema text NOT NULL,
    table_name   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('foreign_key', 'trigger')),
    name         text NOT NULL,
    definition   text NOT NULL,
    held_at      timestamptz NOT NULL DEFAULT now(),
    restored_at  timestamptz,
    PRIMARY KEY (run_id, table_schema, table_name, kind, name)
);
