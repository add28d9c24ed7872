"""Is the app healthy: the database, the broker, and the heartbeats of the Celery worker and
beat. One function, ``health_report()``, answers for /healthz and ``manage.py healthcheck``.

Heartbeats: beat's scheduler writes ``beat`` every HEALTH_HEARTBEAT_SECONDS while it ticks
(``HeartbeatScheduler``), and sends the ``clinic.tasks.heartbeat`` task as often, which writes
``worker`` when a worker runs it. A heartbeat older than HEALTH_MAX_AGE_SECONDS is stale."""

import logging
import time
from pathlib import Path

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from kombu import Connection

from .broker import is_embedded
from .models_ops import Heartbeat

logger = logging.getLogger(__name__)
PROCESSES = ("worker", "beat")


def heartbeat_touch(name: str) -> None:
    """Record that ``name`` (worker or beat) is alive now. Safe to run twice."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


def _database_and_heartbeats() -> tuple[str, dict[str, float]]:
    try:
        beats = dict(Heartbeat.objects.filter(name__in=PROCESSES).values_list("name", "at"))
    except Exception as exc:  # noqa: BLE001 - any failure means "down", named in the answer
        return f"down: {exc.__class__.__name__}", {}
    now = timezone.now()
    return "ok", {name: round((now - at).total_seconds(), 1) for name, at in beats.items()}


def _broker() -> str:
    try:
        with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            if is_embedded():
                conn.default_channel._size("celery")  # the SQLite file answers a read
    except Exception as exc:  # noqa: BLE001
        return f"down: {exc.__class__.__name__}"
    return "ok"


def health_report(only: tuple[str, ...] = ()) -> dict:
    """{"status": "ok" | "down", "database", "broker", "worker", "beat": "ok" | "down: ..." |
    "stale" | "never seen", "worker_age_seconds", "beat_age_seconds": seconds or None}.
    ``only``: the parts that decide the status (default all)."""
    database, ages = _database_and_heartbeats()
    report = {"database": database, "broker": _broker()}
    for name in PROCESSES:
        age = ages.get(name)
        if database != "ok":
            report[name] = "unknown: database down"
        elif age is None:
            report[name] = "never seen"
        elif age > settings.HEALTH_MAX_AGE_SECONDS:
            report[name] = "stale"
        else:
            report[name] = "ok"
        report[f"{name}_age_seconds"] = age
    parts = only or ("database", "broker", *PROCESSES)
    healthy = all(report[part] == "ok" for part in parts)
    return {"status": "ok" if healthy else "down", **report}


class HeartbeatScheduler(PersistentScheduler):
    """Celery beat's scheduler that also writes beat's heartbeat while it ticks
    (CELERY_BEAT_SCHEDULER)."""

    _last_beat = 0.0

    def setup_schedule(self):
        # The schedule file's folder (var/ by default) does not exist on a fresh checkout.
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        wait = super().tick(*args, **kwargs)
        every = settings.HEALTH_HEARTBEAT_SECONDS
        if time.monotonic() - self._last_beat >= every:
            try:
                close_old_connections()  # a database restarted since the last tick
                heartbeat_touch("beat")
                self._last_beat = time.monotonic()
            except Exception:
                logger.exception("could not write beat's heartbeat")
        return min(wait, every)
