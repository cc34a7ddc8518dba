-- A `--data-only` run also holds the target's plain (non-unique, constraint-free) indexes
-- for its load: dropped with their definitions recorded, built again per table once its
-- rows are in, as the indexes of a schema lite2pg makes are. Unique indexes and keys stay:
-- they refuse a row at once, where a rebuild after the load could only fail whole.
ALTER TABLE lite2pg.held DROP CONSTRAINT held_kind_check;
ALTER TABLE lite2pg.held ADD CONSTRAINT held_kind_check
    CHECK (kind IN ('foreign_key', 'trigger', 'index'));
