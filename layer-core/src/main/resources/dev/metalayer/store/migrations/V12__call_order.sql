-- Per-call order on the calls lane. call_event is what a calls-lane delivery is to its call ('connect',
-- 'status', 'terminate', 'other'; NULL for the default lane and for rows stored before this migration);
-- call_rank orders the deliveries of one call (subscription and ordering key) that no attempt has
-- reached yet: connect 0, status 1, terminate 2, other 3. Rows stored before keep rank 1 alike, so
-- their order stays their arrival order. A ring that comes after its call's terminate was sent is
-- stored, or ends, in the new state 'superseded' (state is text: no constraint to change).
ALTER TABLE layer_deliveries ADD COLUMN call_event VARCHAR(12);
ALTER TABLE layer_deliveries ADD COLUMN call_rank INTEGER DEFAULT 1 NOT NULL;
