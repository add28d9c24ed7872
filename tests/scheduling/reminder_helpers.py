"""Booking helpers for the reminder tests: sessions are created directly."""

import datetime as dt

from scheduling.models import Session
from scheduling.reminders_plan import reminders_sync


def book(patient, site, start, *, sync=True, **kwargs) -> Session:
    session = Session.objects.create(
        patient=patient,
        chair=kwargs.pop("chair", None) or site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2, minutes=30),
        planned_dose_mg=56,
        **kwargs,
    )
    if sync:
        reminders_sync(session=session)
    return session
