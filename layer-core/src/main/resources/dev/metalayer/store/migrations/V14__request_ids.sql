-- The request id of each webhook POST (X-Request-Id, or the trace-id of its traceparent, or one the
-- layer made), which its deliveries carry to subscribers as X-Request-Id. Envelopes stored before this
-- migration have none: their deliveries are sent without the header.
ALTER TABLE layer_envelopes ADD COLUMN request_id VARCHAR(128);
