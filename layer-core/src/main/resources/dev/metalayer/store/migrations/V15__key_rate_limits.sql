-- A key's own rate limit (Grant.RateLimit): requests per second (may be fractional) and the burst. Both
-- NULL: the layer's default (LAYER_KEY_RATE, LAYER_KEY_BURST); both 0: no limit for this key.
ALTER TABLE layer_keys ADD COLUMN rate_per_second DOUBLE PRECISION;
ALTER TABLE layer_keys ADD COLUMN rate_burst INTEGER;
