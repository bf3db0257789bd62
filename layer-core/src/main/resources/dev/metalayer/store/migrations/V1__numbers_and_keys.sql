-- Numbers registered in the layer. The Meta token is sealed with AES-256-GCM (TokenCipher).
-- Times are epoch milliseconds (BIGINT) so that H2 and PostgreSQL read them alike.
CREATE TABLE layer_numbers (
  phone_number_id VARCHAR(32) PRIMARY KEY,
  phone VARCHAR(20) NOT NULL UNIQUE,
  waba_id VARCHAR(32) NOT NULL,
  business_id VARCHAR(32) NOT NULL,
  meta_token BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE INDEX layer_numbers_waba ON layer_numbers (waba_id);

-- Provider keys: only the SHA-256 hex of the key and a display prefix are kept.
CREATE TABLE layer_keys (
  id VARCHAR(40) PRIMARY KEY,
  key_hash CHAR(64) NOT NULL UNIQUE,
  prefix VARCHAR(16) NOT NULL,
  phone_number_id VARCHAR(32) NOT NULL REFERENCES layer_numbers (phone_number_id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);

CREATE INDEX layer_keys_number ON layer_keys (phone_number_id);
