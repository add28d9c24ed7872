#!/bin/sh
# Runs once, when the PostgreSQL volume is first created (docker-entrypoint-initdb.d), as the
# superuser: the owner role (runs migrations, owns the tables) and the app role (web, worker,
# beat), as the README's "Audit trail" section describes. deploy/grants.sql gives the app role
# its rights after each migration.
set -eu
: "${OWNER_DB_PASSWORD:?set OWNER_DB_PASSWORD in .env}"
: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_pw="$OWNER_DB_PASSWORD" -v app_pw="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE clinic_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE clinic_app LOGIN PASSWORD :'app_pw';
CREATE DATABASE clinic OWNER clinic_owner;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname clinic <<'SQL'
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO clinic_owner;
GRANT CONNECT ON DATABASE clinic TO clinic_app;
GRANT USAGE ON SCHEMA public TO clinic_app;
ALTER DEFAULT PRIVILEGES FOR ROLE clinic_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO clinic_app;
ALTER DEFAULT PRIVILEGES FOR ROLE clinic_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO clinic_app;
SQL
