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
        # For people
        "date": "D j M Y",  # Thu 3 Dec 2026
        "long_date": "l j F Y",  # Thursday 3 December 2026 (a page's heading)
        "plain_date": "j M Y",  # 3 Dec 2026 (where the weekday means nothing: a birth date)
        "long_day": "l j F",  # Thursday 3 December (a reminder: the year goes without saying)
        "day": "D j M",  # Thu 3 Dec (a day of this week's or today's board)
        "weekday": "l",  # Thursday
        "weekday_short": "D",  # Thu (a column of a week)
        "time": time,  # 14:05 or 2:05 PM
        "time_seconds": seconds,
        "datetime": f"D j M Y {time}",
        "day_time": f"D j M {time}",
        # For machines (recognisable as such: never shown as a page's wording)
        "iso": "Y-m-d",  # 2026-12-03: URL parameters, <input type="date"> values, CSV date values
        "iso_time": "H:i",  # 14:05: <input type="time"> values (always 24-hour)
        "iso_datetime": "Y-m-d H:i",  # 2026-12-03 14:05: CSV values a spreadsheet reads as a date and time
        "instant": "c",  # 2026-12-03T14:05:09-05:00: the instants countdowns count to (data attributes)
        "stamp": "Ymd-Hi",  # 20261203-1405: in file names
    }


# The formats of <input type="date"> and <input type="time"> values, as the forms' widgets write
# them (machine formats: the browser shows them in the device's own way).
INPUT_DATE_FORMAT = "%Y-%m-%d"
INPUT_TIME_FORMAT = "%H:%M"


def when(value, style: str = "datetime", tz: dt.tzinfo | None = None) -> str:
    """``value`` (a date, a time of day or a datetime) in the named ``style``; an aware datetime
    is shown in ``tz``, else in its own zone (a value read from the database is in UTC: pass the
    site's zone). Empty for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.time):
        return dateformat.time_format(value, styles()[style])
    if tz is not None and isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = value.astimezone(tz)
    return dateformat.format(value, styles()[style])


def time_range(start, end, tz: dt.tzinfo | None = None) -> str:
    """``14:05-15:35``: two times in the clinic's clock, joined by a dash."""
    return f"{when(start, 'time', tz)}-{when(end, 'time', tz)}"


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
