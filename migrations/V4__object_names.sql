-- What `rollback --run ID` drops, in typed columns: kind ('schema', 'extension', 'table',
-- 'view'), the schema it is in ('' for a schema or an extension) and its unquoted name.
-- Other steps (keys, indexes, foreign keys, identity restarts) go with their table and
-- leave the columns NULL.
ALTER TABLE lite2pg.objects
    ADD COLUMN kind text CHECK (kind IN ('schema', 'extension', 'table', 'view')),
    ADD COLUMN schema_name text,
    ADD COLUMN name text;

-- Rows recorded before V4 named their object in display form (`table "x"`): read them once,
-- here, so no code has to.
UPDATE lite2pg.objects o
SET kind = split_part(o.object, ' ', 1),
    schema_name = CASE WHEN split_part(o.object, ' ', 1) IN ('table', 'view')
                       THEN r.target_schema ELSE '' END,
    name = CASE WHEN substr(o.object, strpos(o.object, ' ') + 1) LIKE '"%"'
                THEN replace(substr(o.object, strpos(o.object, ' ') + 2,
                                    length(o.object) - strpos(o.object, ' ') - 2), '""', '"')
                ELSE substr(o.object, strpos(o.object, ' ') + 1) END
FROM lite2pg.runs r
WHERE r.id = o.run_id
  AND o.phase IN ('schema', 'views')
  AND split_part(o.object, ' ', 1) IN ('schema', 'extension', 'table', 'view');
