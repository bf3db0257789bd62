-- Claiming scans due deliveries in the order they are attempted and stops at the claim's limit:
-- pending rows by (next_attempt_at, seq), and crashed attempts' leases by lease_until, within a lane.
-- The first index supersedes layer_deliveries_due, its prefix.
CREATE INDEX layer_deliveries_claim ON layer_deliveries (lane, state, next_attempt_at, seq);
CREATE INDEX layer_deliveries_lease ON layer_deliveries (lane, state, lease_until);
DROP INDEX layer_deliveries_due;
