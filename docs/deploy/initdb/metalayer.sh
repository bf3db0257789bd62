#!/bin/bash
# Run once by the postgres image on its first start (an empty data volume): the layer's own role and
# database beside Chatwoot's. The layer creates its tables itself at start (its migrations).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$METALAYER_DB_PASSWORD" <<'SQL'
CREATE ROLE metalayer LOGIN PASSWORD :'password';
CREATE DATABASE metalayer OWNER metalayer;
SQL
