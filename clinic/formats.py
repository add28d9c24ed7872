"""The one way the app writes dates, times and phone numbers for people.

A few named styles instead of a format string at every use: the clock (24- or 12-hour) is the
``CLINIC_CLOCK`` setting, and every page that uses these styles follows it. Templates in the
Django template language write ``{{ value|when:"day_time" }}`` and ``{{ number|phone }}``
(``{% load clinic_formats %}``); Jinja2 partials call ``when(value, "time", tz)``."""

import datetime as dt

import phonenumbers
from django.conf import settings
from django.utils import dateformat, timezone

_TIME = {"24": "H:i", "12": "g:i A"}
_TIME_SECONDS = {"24": "H:i:s", "12": "g:i:s A"}


def styles() -> dict[str, str]:
    """The named styles, as Django date-format strings, for the clinic's clock."""
    clock = getattr(settings, "CLINIC_CLOCK", "24")
    time, seconds = _TIME[clock], _TIME_SECONDS[clock]
    return {
        "date": "D j M Y",  # Thu 3 Dec 2026
        "day": "D j M",  # Thu 3 Dec (a day of this week's or today's board)
        "time": time,  # 14:05 or 2:05 PM
        "time_seconds": seconds,
        "datetime": f"D j M Y {time}",
        "day_time": f"D j M {time}",
        "iso": "Y-m-d",  # machine-readable: file names, CSV values
        "instant": "c",  # machine-readable: the instants countdowns count to (data attributes)
    }


def when(value, style: str = "datetime", tz: dt.tzinfo | None = None) -> str:
    """``value`` (a date or an aware datetime) in the named ``style``; an aware datetime is
    shown in ``tz``, else in the current time zone. Empty for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value, tz)
    return dateformat.format(value, styles()[style])


def phone(e164: str, region: str | None = None) -> str:
    """A stored E.164 number as people dial it: the national form for a number of the clinic's
    region (``PHONE_DEFAULT_REGION``), the international form for any other."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    region = region or settings.PHONE_DEFAULT_REGION
    national = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)
