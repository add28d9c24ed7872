"""Reads of the calendar feeds (two queries whatever the number of sessions)."""

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from clinic.models import Site

from .calendar import FEED_DAYS_AHEAD, FEED_DAYS_BACK
from .models import Session


def site_feed_sessions(site: Site, *, now: dt.datetime | None = None) -> QuerySet[Session]:
    """The site's sessions of the feed's window, cancelled ones included (the feed carries the
    cancellation), oldest first."""
    now = now or timezone.now()
    return (
        Session.objects.filter(
            chair__site=site,
            start__gte=now - dt.timedelta(days=FEED_DAYS_BACK),
            start__lt=now + dt.timedelta(days=FEED_DAYS_AHEAD),
        )
        .select_related("chair", "patient")
        .only("start", "planned_end", "status", "version", "chair__name", "patient__first_name", "patient__last_name")
        .order_by("start", "pk")
    )
