-- Fair claims: each delivery carries the number of its subscription, so that a claim can share a lane
-- round-robin between numbers and count what each number has in flight. The index lets a claim step
-- from number to number (a skip scan over phone_number_id) and read each number's oldest due rows
-- without reading another number's backlog.
ALTER TABLE layer_deliveries ADD COLUMN phone_number_id VARCHAR(32) DEFAULT '' NOT NULL;
UPDATE layer_deliveries SET phone_number_id = COALESCE((SELECT s.phone_number_id FROM layer_subscriptions s
  WHERE s.id = layer_deliveries.subscription_id), '');
CREATE INDEX layer_deliveries_fair ON layer_deliveries (lane, state, phone_number_id, next_attempt_at, seq);

-- Deferred routing: a large envelope is stored (routed = FALSE) and acknowledged at once, then routed in
-- the background; one still unrouted when the process stops is routed at the next start.
ALTER TABLE layer_envelopes ADD COLUMN routed BOOLEAN DEFAULT TRUE NOT NULL;
CREATE INDEX layer_envelopes_unrouted ON layer_envelopes (routed, received_at);
