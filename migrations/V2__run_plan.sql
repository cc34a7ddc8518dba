-- The plan a run applied (docs/plan-format.md), so `verify` compares against exactly the
-- tables, names and key choices the migration used, without profiling the source again.
ALTER TABLE lite2pg.runs ADD COLUMN plan jsonb;
