"""Parts of the busiest pages kept for a few seconds, and given up as soon as a change is made
through the app.

A kept part is stored under its key and the current change number (``last_change``). Every
service that writes clinical or scheduling data appends its audit row (create, update or
delete) through ``clinic.audit``, which moves the number on once the write's transaction has
committed (``changed``): the next request finds no copy under the new number and computes the
part again. The number lives in Django's cache: with ``CACHE_URL`` every web process reads
the same one; without it (each process's own memory) another process sees a change once its
copy's seconds have run out. A change made around the app (``psql``, a plain queryset update
in a shell) is not audited and shows the same way. That is why each page that keeps a part
prints the time the part was computed ("Updated 10:31:05") and the seconds are few
(``PAGE_CACHE_SECONDS``; 0 computes every request).

The number is read before the part is computed, so a change committed while the part is being
computed can only make the copy newer than its key, never older. Measured figures:
docs/performance-ledger.md."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

from .models import AuditAction

T = TypeVar("T")
logger = logging.getLogger(__name__)

# The actions of the audit rows that record a change of data (page views, exports and
# sign-ins change nothing a page shows).
CHANGE_ACTIONS = frozenset({AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE})
CHANGE_KEY = "kept:change"


def _start() -> None:
    """A new change number, unless another process has just started one: the clock's
    nanoseconds, so no copy kept under an earlier number is taken for current."""
    cache.add(CHANGE_KEY, time.time_ns(), timeout=None)


def last_change() -> int:
    """The current change number, started when the cache has none (first use, or evicted)."""
    number = cache.get(CHANGE_KEY)
    if number is None:
        _start()
        number = cache.get(CHANGE_KEY)
    return number


def _move_on() -> None:
    try:
        cache.incr(CHANGE_KEY)
    except ValueError:  # no number kept: start a new one
        _start()


def changed() -> None:
    """A change is being written: every kept part is given up once the transaction commits
    (at once outside a transaction; never if it rolls back). A cache that cannot be reached
    then is logged, not raised: the change is committed, and the copies end with their
    seconds."""
    transaction.on_commit(_move_on, robust=True)


def kept(key: str, seconds: int, compute: Callable[[], T]) -> T:
    """What ``compute()`` returns, or the copy of it computed less than ``seconds`` ago under
    ``key`` with no change made through the app since. ``compute`` must return something the
    cache can store (picklable) and that does not depend on who asks."""
    if seconds <= 0:
        return compute()
    try:
        full_key = f"kept:{key}:{last_change()}"
        value = cache.get(full_key)
    except Exception:  # noqa: BLE001 - the page computes what it shows without the cache
        logger.warning("Cache unavailable: %s computed at every request", key, exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(full_key, value, seconds)
        except Exception:  # noqa: BLE001 - kept next time, when the cache answers again
            logger.warning("Cache unavailable: %s not kept", key, exc_info=True)
    return value
