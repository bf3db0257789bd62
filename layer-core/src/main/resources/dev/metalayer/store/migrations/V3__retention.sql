-- Retention: the purge removes finished deliveries (with their attempts) and envelopes older than the
-- retention period. These indexes let it find them without scanning the tables.

-- finished deliveries by the time they last changed
CREATE INDEX layer_deliveries_finished ON layer_deliveries (state, updated_at);

-- envelopes by age, and the deliveries that still reference an envelope
CREATE INDEX layer_envelopes_received ON layer_envelopes (received_at);
CREATE INDEX layer_deliveries_envelope ON layer_deliveries (envelope_id);
