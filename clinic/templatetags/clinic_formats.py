"""``when`` and ``phone``: the filters of ``clinic.formats`` (the one way of writing dates,
times and phone numbers)."""

import datetime as dt

from django import template

from clinic import formats

register = template.Library()


@register.filter(expects_localtime=True)
def when(value, style="datetime"):
    """{{ value|when:"time" }}: the value in a named style (clinic.formats.styles), in the
    page's time zone (``{% timezone %}``). Empty for anything but a date or time (a bound form's
    typed text), as Django's ``date`` filter, so ``|default:`` can show the text instead."""
    if not isinstance(value, dt.date | dt.time):
        return ""
    return formats.when(value, style, tz=value.tzinfo if hasattr(value, "tzinfo") and value.tzinfo else None)


@register.filter
def phone(value):
    """{{ number|phone }}: a stored E.164 number in the national form (international when foreign)."""
    return formats.phone(value)
