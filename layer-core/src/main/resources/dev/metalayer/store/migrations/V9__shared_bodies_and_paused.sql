-- Storage that scales with traffic, not with fan-out: a body a change is sent with is stored once in
-- layer_bodies, and each delivery refers to it (body_id). A body is keyed by its envelope and content:
-- '<envelope id>:<SHA-256 hex of the bytes>', so the deliveries of one change to N subscriptions share
-- one row (a Chatwoot terminate_reason rewrite has other bytes, hence a row of its own), and no ingest
-- ever shares a body with another envelope's (retention cannot remove a body a new ingest relies on).
CREATE TABLE layer_bodies (
  id VARCHAR(120) PRIMARY KEY,
  envelope_id VARCHAR(40) NOT NULL,
  body BYTEA NOT NULL
);
CREATE INDEX layer_bodies_envelope ON layer_bodies (envelope_id);

-- Existing deliveries: their bodies move, one row per distinct body of an envelope, keyed by the id of
-- the first delivery that carried it (SQL cannot hash alike on H2 and PostgreSQL; the key is opaque).
ALTER TABLE layer_deliveries ADD COLUMN body_id VARCHAR(120);
INSERT INTO layer_bodies (id, envelope_id, body)
  SELECT MIN(id), COALESCE(envelope_id, ''), body FROM layer_deliveries GROUP BY envelope_id, body;
UPDATE layer_deliveries SET body_id = (SELECT b.id FROM layer_bodies b
  WHERE b.envelope_id = COALESCE(layer_deliveries.envelope_id, '') AND b.body = layer_deliveries.body);
ALTER TABLE layer_deliveries ALTER COLUMN body_id SET NOT NULL;
ALTER TABLE layer_deliveries DROP COLUMN body;
-- the purge finds whether a body is still referenced through this index
CREATE INDEX layer_deliveries_body ON layer_deliveries (body_id);

-- A subscription turned off keeps its backlog as 'paused' rows, outside every claim's index range; it is
-- paused and resumed through this index (a subscription's rows of one state, in arrival order).
CREATE INDEX layer_deliveries_subscription_state ON layer_deliveries (subscription_id, state, seq);
