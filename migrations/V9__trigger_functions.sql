-- Translated SQLite triggers: each calls a PL/pgSQL function the run creates, recorded so
-- that `rollback --run ID` drops it (the trigger itself goes with its table).
ALTER TABLE lite2pg.objects DROP CONSTRAINT objects_kind_check;
ALTER TABLE lite2pg.objects ADD CONSTRAINT objects_kind_check
    CHECK (kind IN ('schema', 'extension', 'table', 'view', 'function'));
