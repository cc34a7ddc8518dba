-- The dual-write shim (`sync`, `cutover`, `rollback`, `finish`): one row of state per
-- target schema, the PostgreSQL-side change log, rows the applier could not carry, and the
-- history of switches.

CREATE TABLE lite2pg.sync_state (
    target_schema   text PRIMARY KEY,
    source          text NOT NULL,
    run_id          uuid REFERENCES lite2pg.runs ON DELETE SET NULL,
    -- Which database the application writes to, and so which way changes flow.
    primary_side    text NOT NULL DEFAULT 'sqlite' CHECK (primary_side IN ('sqlite', 'postgresql')),
    -- The last SQLite change-log position applied to PostgreSQL.
    applied_seq     bigint NOT NULL DEFAULT 0,
    -- Rows written by the applier since sync began, each direction.
    applied_rows    bigint NOT NULL DEFAULT 0,
    reverse_rows    bigint NOT NULL DEFAULT 0,
    -- When the newest applied change was made in its source, and when it was applied.
    applied_change_at timestamptz,
    applied_at      timestamptz,
    -- Tables the appliers wrote since the last verification (cutover and rollback verify
    -- at least these).
    touched         text[] NOT NULL DEFAULT '{}',
    -- sha256 over the SQLite schema of the captured tables when capture was armed.
    schema_digest   text NOT NULL,
    last_error      text,
    error_at        timestamptz,
    cutover_at      timestamptz,
    rollback_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Changes the application made in PostgreSQL after a cutover. The applier deletes the rows
-- it consumed in the transaction that records them applied, so a change committed late by a
-- concurrent transaction (a lower seq becoming visible after a higher one) is never skipped.
CREATE TABLE lite2pg.pg_changes (
    seq           bigserial PRIMARY KEY,
    target_schema text NOT NULL,
    tbl           text NOT NULL,
    op            text NOT NULL CHECK (op IN ('I', 'U', 'D')),
    old_key       text[],
    new_key       text[],
    at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Keys the appliers wrote since the last verification, for tables keyed by one integer:
-- cutover and rollback compare just these rows while writers wait.
CREATE TABLE lite2pg.sync_touched_keys (
    target_schema text NOT NULL,
    target_name   text NOT NULL,
    key           bigint NOT NULL,
    PRIMARY KEY (target_schema, target_name, key)
);

-- Rows whose current SQLite values the applier could not carry (the same rules as the copier:
-- no silent loss); cleared when the row is carried later. cutover refuses while any remain.
CREATE TABLE lite2pg.sync_rejects (
    target_schema text NOT NULL,
    target_name   text NOT NULL,
    key           jsonb NOT NULL,
    column_name   text,
    reason        text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_schema, target_name, key)
);

-- Every cutover and rollback, with how long writers were frozen.
CREATE TABLE lite2pg.sync_events (
    seq           bigserial PRIMARY KEY,
    target_schema text NOT NULL,
    kind          text NOT NULL,
    ok            boolean NOT NULL,
    freeze_s      double precision,
    detail        jsonb NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);

-- `rollback --run ID` removes a run's objects and marks the run so.
ALTER TABLE lite2pg.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE lite2pg.runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'done', 'failed', 'rolled_back'));
