-- A known value sealed with the first master key (MasterKeyCheck), one row: at every start the layer
-- opens it with its master key and refuses to start when it does not open.
CREATE TABLE layer_master_key_check (
  id INTEGER PRIMARY KEY,
  sealed BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
