-- Work shared between layer instances on one database.
-- claim_token: a fresh random value each claim writes with its lease. An attempt records its outcome
-- (and renews its lease) only while the row is still 'delivering' with its claim's token, so a slow
-- attempt whose lease ran out and was taken over never overwrites the later claim's result.
-- owner: the instance whose ingest stored a call delivery. Another instance claims it only once the
-- owner is no longer seen (layer_instances); NULL: any instance claims it.
ALTER TABLE layer_deliveries ADD COLUMN claim_token VARCHAR(40);
ALTER TABLE layer_deliveries ADD COLUMN owner VARCHAR(40);

-- The running instances: each one's delivery engine writes seen_at every second; an instance not seen
-- for RelayStore.OWNER_TIMEOUT is dead, and the call deliveries it owns are taken over.
CREATE TABLE layer_instances (
  id VARCHAR(40) PRIMARY KEY,
  started_at BIGINT NOT NULL,
  seen_at BIGINT NOT NULL
);
