-- The Meta doctor: when the layer last received a webhook for each registered number. The router writes a
-- number's row at most once a minute per instance (a later time only, never an earlier one), so that the
-- doctor answers "when did Meta last call us for this number" with one primary-key read, without reading
-- envelopes (which do not carry their numbers).
CREATE TABLE layer_number_webhooks (
  phone_number_id VARCHAR(32) PRIMARY KEY,
  received_at BIGINT NOT NULL
);
