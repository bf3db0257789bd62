-- One counter row, moved in the same transaction as every key revocation, number addition or removal and
-- Meta token change. Each layer instance reads it about every second and forgets the grants and numbers
-- it cached when it moved, so that such a change on one instance holds on every instance within seconds.
CREATE TABLE layer_key_changes (
  id INTEGER PRIMARY KEY,
  version BIGINT NOT NULL
);

INSERT INTO layer_key_changes (id, version) VALUES (1, 0);
