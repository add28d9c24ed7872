#!/bin/sh
# Restore a backup written by backup.sh into an EMPTY database (create it first, owned by the
# owner role), then give the app role its rights and verify the audit trail:
#
#   createdb -O clinic_owner clinic_restored
#   DATABASE_URL=postgres://clinic_owner:...@db:5432/clinic_restored deploy/restore.sh backups/clinic-....dump
#
# Then run `manage.py audit_verify` against it with the AUDIT_CHAIN_KEY kept with the backup.
set -eu
: "${DATABASE_URL:?set DATABASE_URL (the owner role, the empty database to restore into)}"
dump="${1:?name the backup file}"
here="$(dirname "$0")"
pg_restore --exit-on-error --no-owner --single-transaction --dbname="$DATABASE_URL" "$dump"
if [ "${SKIP_GRANTS:-0}" != "1" ]; then
  psql -v ON_ERROR_STOP=1 --quiet "$DATABASE_URL" -f "$here/grants.sql"
fi
echo "restored $dump"
