-- The scopes of each key (Grant.Scope wire names, comma-separated): what the key may do. Keys created
-- before scopes existed keep doing everything they did: they get every scope.
ALTER TABLE layer_keys ADD COLUMN scopes VARCHAR(200) DEFAULT 'messages,calls,settings,templates,media,webhooks' NOT NULL;
