"""The embedded broker (``make run``): kombu's SQLAlchemy transport on a SQLite file.

``broker_prepare()`` creates the file in WAL mode with kombu's tables before any process uses
it (several processes creating the tables at once could race), and ``broker_prune()`` removes
delivered messages, which the transport keeps (marked invisible) for ever."""

import datetime as dt
from pathlib import Path

from django.conf import settings
from kombu import Connection

from . import sql

EMBEDDED_PREFIX = "sqla+sqlite:///"


def is_embedded(url: str | None = None) -> bool:
    return (url or settings.CELERY_BROKER_URL).startswith(EMBEDDED_PREFIX)


def broker_path(url: str | None = None) -> Path:
    return Path((url or settings.CELERY_BROKER_URL).removeprefix(EMBEDDED_PREFIX))


def broker_prepare(url: str | None = None) -> None:
    """Create the SQLite broker file (WAL journal: readers never wait for the writer) and
    kombu's tables. Safe to run twice."""
    url = url or settings.CELERY_BROKER_URL
    if not is_embedded(url):
        return
    path = broker_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    sql.sqlite_use_wal(path)
    with Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        conn.default_channel.session.close()  # opening the channel creates the tables


def broker_prune(*, older_than: dt.timedelta = dt.timedelta(hours=1), url: str | None = None) -> int:
    """Delete messages delivered more than ``older_than`` ago. Returns how many."""
    url = url or settings.CELERY_BROKER_URL
    if not is_embedded(url):
        return 0
    cutoff = dt.datetime.now() - older_than  # noqa: DTZ005 - kombu stores naive local times
    with Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        channel = conn.default_channel
        message = channel.message_cls
        deleted = (
            channel.session.query(message)
            .filter(message.visible.is_(False), message.sent_at < cutoff)
            .delete(synchronize_session=False)
        )
        channel.session.commit()
        channel.session.close()
    return deleted
