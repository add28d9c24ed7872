"""The statements of this app that the ORM cannot say. Every other read and write goes through
the ORM.

The audit chain's append (clinic.audit) takes the chain's lock and reads the hash of the last
row, on PostgreSQL, by calling the function of migration 0005."""

from django.db import connection, transaction

# Any constant: the advisory lock that serialises appends to the chain ("AUDT").
CHAIN_LOCK_KEY = 0x41554454

# Lock and head in one statement (the function takes a transaction-level advisory lock, then
# reads the head with a fresh snapshot): the audit row of every staff page takes two statements
# instead of three (docs/performance-ledger.md).
_HEAD_SQL = "SELECT clinic_audit_chain_head(%s)"
# The same, and the transaction commits without waiting for the disk flush if it has changed
# nothing so far (no transaction id assigned yet): a page view whose only write is its audit
# row. Measured against each page's own baseline: the patient search 1.86x -> 1.62x, the
# filtered audit page 2.02x -> 1.61x (docs/performance-ledger.md). In the same statement, so
# the choice costs no round trip.
_HEAD_SQL_VIEW = (
    "SELECT clinic_audit_chain_head(%s), set_config('synchronous_commit', "
    "CASE WHEN pg_current_xact_id_if_assigned() IS NULL THEN 'off' "
    "ELSE current_setting('synchronous_commit') END, true)"
)


def audit_chain_lock_and_head(*, page_view: bool) -> str | None:
    """PostgreSQL: take the audit chain's append lock (held to the end of the transaction) and
    return the hash of its last row (None on an empty trail). ``page_view``: the row records a
    page being read, not a change (see _HEAD_SQL_VIEW)."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_SQL_VIEW if page_view else _HEAD_SQL, [CHAIN_LOCK_KEY])
        row = cursor.fetchone()
    return row[0] if row else None


def sqlite_use_wal(path) -> None:
    """The embedded broker's SQLite file (clinic.broker), not the app's database: switch its
    journal to WAL, which the file keeps, so readers never wait for the writer. A PRAGMA has no
    ORM or SQLAlchemy expression."""
    import sqlite3

    with sqlite3.connect(path, timeout=30) as db:
        db.execute("PRAGMA journal_mode=WAL")
    db.close()


def sqlite_broker_connection(path):
    """A connection to the embedded broker's SQLite file (SQLAlchemy's ``creator``): waits up to
    30 s for the write lock, and in WAL mode commits without a disk flush per message
    (synchronous=NORMAL: a power cut can lose the last messages, never corrupt the file; the
    reminders they carried are claimed again by the next tick)."""
    import sqlite3

    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def copy_csv(queryset, out, *, time_zone: str, on_block=None) -> int:
    """Write the rows of ``queryset`` (a ``values_list`` built with the ORM: its filters and
    columns) to the binary file ``out`` as CSV through PostgreSQL's COPY, the fastest way out
    of the database (the audit export: 1 million rows in the time of a few seconds instead of
    parsing every value in Python). Times are formatted by PostgreSQL in ``time_zone`` (the
    transaction's TimeZone). ``on_block(block)`` is called with each block of bytes as it
    arrives; no other statement can run on this connection meanwhile. Returns the number of
    rows."""
    import psycopg

    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(using=queryset.db):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('TimeZone', %s, true)", [time_zone])
        # COPY takes no server-side parameters: a client-side cursor merges them in.
        cursor = psycopg.ClientCursor(connection.connection)
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:  # noqa: S608 - ORM-built
            for block in copy:
                out.write(block)
                if on_block is not None:
                    on_block(block)
        return cursor.rowcount
