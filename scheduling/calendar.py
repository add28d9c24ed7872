"""Sessions as iCalendar (RFC 5545) files, built with the icalendar library: a site's feed
for the staff's calendar application and the patient's own session from their link.

Each session is one event whose UID is the session's id, so a calendar application moves the
event when the session moves (SEQUENCE is the session's version) and shows it cancelled when
it is cancelled. Minimum necessary content: the staff feed names the chair and the patient's
initials only; the patient's file names the clinic, the time and the address, never the drug,
the diagnosis or the treatment. The words people read (the calendar's name, the event's title and
description) are in the clinic's language; the rest is RFC 5545."""

import datetime as dt

from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from .models import Session, SessionStatus

PRODID = "-//Clinic scheduling//Sessions//EN"
# The staff feed: sessions from this many days back to this many ahead.
FEED_DAYS_BACK = 14
FEED_DAYS_AHEAD = 90


def session_uid(session: Session, domain: str) -> str:
    return f"session-{session.pk}@{domain}"


def initials(first_name: str, last_name: str) -> str:
    return "".join(f"{part[:1].upper()}." for part in (first_name, last_name) if part)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    return cal


def _event(session: Session, *, domain: str, now: dt.datetime, summary: str, location: str) -> Event:
    event = Event()
    event.add("uid", session_uid(session, domain))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", session.start.astimezone(dt.UTC))
    event.add("dtend", session.planned_end.astimezone(dt.UTC))
    event.add("sequence", session.version)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    cancelled = session.status == SessionStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    return event


def site_feed(sessions, *, site, domain: str, now: dt.datetime) -> bytes:
    """A site's sessions for the staff: chair and time, the patient's initials only."""
    cal = _calendar(_("%(site)s: sessions") % {"site": site.name})
    for session in sessions:
        who = initials(session.patient.first_name, session.patient.last_name)
        values = {"chair": session.chair.name, "patient": who}
        if session.status == SessionStatus.NO_SHOW:
            summary = _("%(chair)s: %(patient)s (no-show)") % values
        else:
            summary = _("%(chair)s: %(patient)s") % values
        cal.add_component(_event(session, domain=domain, now=now, summary=summary, location=site.name))
    return cal.to_ical()


def patient_session(session: Session, *, clinic_name: str, phone: str, domain: str, now: dt.datetime) -> bytes:
    """The patient's own session: the clinic, the time, the address and the phone number."""
    site = session.chair.site
    cal = _calendar(clinic_name)
    event = _event(
        session,
        domain=domain,
        now=now,
        summary=_("Appointment at %(clinic_name)s") % {"clinic_name": clinic_name},
        location=", ".join(part for part in (clinic_name, site.address) if part),
    )
    if phone:
        event.add("description", _("Questions or cannot come? Call %(phone)s.") % {"phone": phone})
    cal.add_component(event)
    return cal.to_ical()
