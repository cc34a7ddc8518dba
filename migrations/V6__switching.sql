-- A switch in flight: `cutover` or `rollback` records itself here (committed) before its
-- first commit on either database and clears it after its last, so a process killed
-- between the two commits leaves a mark the next status, sync, cutover or rollback reads
-- to complete the switch or undo it (src/capture/settle.rs).
ALTER TABLE lite2pg.sync_state
    ADD COLUMN switching text CHECK (switching IN ('cutover', 'rollback'));
