#!/bin/sh
# A PostgreSQL backup: pg_dump in its custom format (compressed, restored with restore.sh),
# one file per run, files older than BACKUP_KEEP_DAYS removed.
#
#   DATABASE_URL=postgres://clinic_owner:...@db:5432/clinic BACKUP_DIR=/backups deploy/backup.sh
#
# Keep AUDIT_CHAIN_KEY with the backups, in a separate safe place (a password manager or the
# clinic's secret store, never in the same folder): the audit trail of a restored database
# verifies only with the key it was written with.
set -eu
: "${DATABASE_URL:?set DATABASE_URL (the owner role)}"
BACKUP_DIR="${BACKUP_DIR:-./backups}"
BACKUP_KEEP_DAYS="${BACKUP_KEEP_DAYS:-30}"
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$BACKUP_DIR/clinic-$stamp.dump"
pg_dump --format=custom --no-owner --file="$target.part" "$DATABASE_URL"
mv "$target.part" "$target"
find "$BACKUP_DIR" -name 'clinic-*.dump' -mtime "+$BACKUP_KEEP_DAYS" -delete
echo "backup written: $target ($(wc -c < "$target") bytes)"
