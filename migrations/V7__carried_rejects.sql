-- Values carried changed rather than rows rejected (`--invalid-text clean`: NUL removed,
-- invalid UTF-8 replaced): listed with the rejects, committed with their chunk, so the
-- reject file names every changed value once; they count as no rejected row.
ALTER TABLE lite2pg.rejects ADD COLUMN carried boolean NOT NULL DEFAULT false;
