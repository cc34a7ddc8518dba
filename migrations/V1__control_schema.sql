-- lite2pg's control schema: what each run did, so a killed run can resume and a run's
-- objects can be removed exactly. Created in the target by refinery (src/pg/control.rs).

CREATE TABLE lite2pg.runs (
    id            uuid PRIMARY KEY,
    source        text NOT NULL,
    target_schema text NOT NULL,
    status        text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    phase         text NOT NULL,
    options       jsonb NOT NULL,
    host          text NOT NULL,
    pid           integer NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    error         text,
    report        jsonb
);
CREATE INDEX runs_target_schema_idx ON lite2pg.runs (target_schema, started_at);

-- Every object a run created, in creation order; a step is done when its row exists.
CREATE TABLE lite2pg.objects (
    run_id     uuid NOT NULL REFERENCES lite2pg.runs ON DELETE CASCADE,
    seq        bigserial,
    phase      text NOT NULL,
    object     text NOT NULL,
    sql        text NOT NULL,
    seconds    double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq),
    UNIQUE (run_id, phase, object)
);

-- Committed chunks: key range (lo, hi], counts; committed with the chunk's rows.
CREATE TABLE lite2pg.chunks (
    run_id        uuid NOT NULL REFERENCES lite2pg.runs ON DELETE CASCADE,
    target_name   text NOT NULL,
    ord           bigint NOT NULL,
    lo            jsonb,
    hi            jsonb,
    rows_read     bigint NOT NULL,
    rows_written  bigint NOT NULL,
    rows_rejected bigint NOT NULL,
    bytes         bigint NOT NULL,
    seconds       double precision NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, target_name, ord)
);

-- Rows not carried, with why; committed with their chunk, so each is listed once.
CREATE TABLE lite2pg.rejects (
    seq         bigserial PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES lite2pg.runs ON DELETE CASCADE,
    target_name text NOT NULL,
    ord         bigint NOT NULL,
    key         jsonb NOT NULL,
    column_name text,
    reason      text NOT NULL,
    value       bytea,
    value_kind  text NOT NULL
);
CREATE INDEX rejects_run_idx ON lite2pg.rejects (run_id, target_name);

-- Per-table progress, from the chunks committed so far.
CREATE VIEW lite2pg.table_progress AS
SELECT run_id, target_name,
       count(*) AS chunks,
       bool_or(hi IS NULL) AS last_chunk_committed,
       sum(rows_read) AS rows_read,
       sum(rows_written) AS rows_written,
       sum(rows_rejected) AS rows_rejected,
       sum(bytes) AS bytes,
       max(committed_at) AS last_commit
FROM lite2pg.chunks
GROUP BY run_id, target_name;
