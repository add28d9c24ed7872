"""The administrator's audit report and a patient's access history (the CSV export: test_exports)."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic import selectors_audit
from clinic.audit import audit_record
from clinic.models import AuditEvent
from tests import factories
from tests.conftest import statements

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def bulk_events(n, *, start=dt.datetime(2026, 3, 1, 12, tzinfo=UTC), **fields):
    """n events one minute apart (oldest first); the same instant twice to exercise the id tie-break."""
    rows = [
        AuditEvent(created_at=start + dt.timedelta(minutes=i // 2), action="view", object_type="patient", **fields)
        for i in range(n)
    ]
    return AuditEvent.objects.bulk_create(rows)


def report(client, **params):
    return client.get(reverse("clinic:audit"), params)


def listed_ids(response):
    return [event.pk for event in response.context["page"].events]


def test_it_lists_newest_first_and_walks_every_page_once(client_for, administrator, settings):
    events = bulk_events(125, username="nurse")
    client = client_for(administrator)
    seen, params, pages = [], {"username": "nurse"}, 0
    while True:
        response = report(client, **params)
        assert response.status_code == 200
        seen += listed_ids(response)
        pages += 1
        older = response.context["page"].older
        if not older:
            break
        params = {"username": "nurse", "after": older}
    assert pages == 3
    expected = [e.pk for e in sorted(events, key=lambda e: (e.created_at, e.pk), reverse=True)]
    assert seen == expected


def test_newer_link_goes_back_one_page(client_for, administrator):
    bulk_events(120, username="nurse")
    client = client_for(administrator)
    first = report(client, username="nurse")
    second = report(client, username="nurse", after=first.context["page"].older)
    back = report(client, username="nurse", before=second.context["page"].newer)
    assert listed_ids(back) == listed_ids(first)
    assert back.context["page"].newer is None


def test_a_deep_page_reads_only_one_page_of_rows(client_for, administrator):
    """Keyset, not OFFSET: the query for a deep page has a LIMIT and no OFFSET."""
    events = bulk_events(300, username="nurse")
    deep = selectors_audit.encode_cursor(events[40])
    client = client_for(administrator)
    with CaptureQueriesContext(connection) as queries:
        response = report(client, username="nurse", after=deep)
    assert len(listed_ids(response)) == 40
    statements = [q["sql"].replace('"', "") for q in queries]
    audit_queries = [sql for sql in statements if "FROM clinic_auditevent" in sql and "LIMIT 51" in sql]
    assert audit_queries and all("OFFSET" not in sql for sql in audit_queries)


def test_a_malformed_cursor_shows_the_first_page(client_for, administrator):
    bulk_events(3, username="nurse")
    response = report(client_for(administrator), after="not-a-cursor!!")
    assert response.status_code == 200
    assert len(listed_ids(response)) >= 3


def test_it_filters_by_date_range_user_action_and_type(client_for, administrator, nurse):
    bulk_events(2, start=dt.datetime(2026, 2, 27, 12, tzinfo=UTC), username="nurse")
    march = bulk_events(2, start=dt.datetime(2026, 3, 2, 12, tzinfo=UTC), username="nurse")
    bulk_events(2, start=dt.datetime(2026, 3, 2, 12, tzinfo=UTC), username="scheduler")
    export = AuditEvent.objects.create(
        created_at=dt.datetime(2026, 3, 2, 13, tzinfo=UTC), username="nurse", action="export", object_type="session"
    )
    client = client_for(administrator)
    response = report(client, date_from="2026-03-01", date_to="2026-03-03", username="nurse")
    assert set(listed_ids(response)) == {*(e.pk for e in march), export.pk}
    assert listed_ids(report(client, username="nurse", action="export")) == [export.pk]
    assert listed_ids(report(client, object_type="session")) == [export.pk]


def test_the_end_date_is_inclusive_in_the_clinic_time_zone(client_for, administrator, settings):
    settings.TIME_ZONE = "America/New_York"
    # 2026-03-03 23:30 in New York is 2026-03-04 04:30 UTC.
    late = bulk_events(1, start=dt.datetime(2026, 3, 4, 4, 30, tzinfo=UTC), username="nurse")
    response = report(client_for(administrator), date_from="2026-03-03", date_to="2026-03-03", username="nurse")
    assert listed_ids(response) == [late[0].pk]


def test_reversed_dates_are_an_error_next_to_the_form(client_for, administrator):
    response = report(client_for(administrator), date_from="2026-03-05", date_to="2026-03-01")
    assert response.context["form"].has_error("__all__", code="dates_reversed")
    assert "The start date is after the end date." in response.content.decode()


def test_the_filter_form_keeps_what_was_asked_and_marks_a_bad_date(client_for, administrator):
    page = report(client_for(administrator), date_from="2026-02-30", username='<x"y>', action="export").content.decode()
    assert '<option value="export" selected>' in page and page.count(" selected>") == 1
    assert 'name="username" id="id_username" value="&lt;x&quot;y&gt;"' in page
    assert 'value="2026-02-30" class="form-control is-invalid"' in page
    assert '<div class="invalid-feedback">Enter a valid date.</div>' in page


def test_it_filters_by_patient_mrn_or_name(client_for, administrator, nurse, site):
    ada = factories.make_patient(site=site, first_name="Ada", last_name="Lovelace", mrn="MRN555001")
    other = factories.make_patient(site=site, first_name="Alan", last_name="Turing", mrn="MRN555002")
    seen_ada = audit_record(action="view", user=nurse, obj=ada)
    audit_record(action="view", user=nurse, obj=other)
    client = client_for(administrator)
    assert listed_ids(report(client, patient="MRN555001", action="view")) == [seen_ada.pk]
    assert listed_ids(report(client, patient="Lovelace", action="view")) == [seen_ada.pk]
    assert listed_ids(report(client, patient="Ada Lovelace", action="view")) == [seen_ada.pk]
    assert listed_ids(report(client, patient="Nobody")) == []


def test_sign_in_events_and_refusals_appear_in_the_report(client, administrator, nurse, patient):
    client.post(reverse("login"), {"username": "nurse", "password": "wrong"})
    client.post(reverse("login"), {"username": "nurse", "password": factories.PASSWORD})
    client.get(reverse("clinic:audit"))  # a nurse may not read the audit trail
    client.post(reverse("logout"))
    client.force_login(administrator)
    page = report(client, username="nurse").content.decode()
    for label in ("Failed login", "Login", "Permission denied", "Logout"):
        assert f">{label}<" in page


def test_viewing_the_report_is_itself_audited(client_for, administrator):
    report(client_for(administrator), action="lockout")
    event = AuditEvent.objects.filter(object_type="audit_report").latest("id")
    assert (event.username, event.action, event.summary) == ("administrator", "view", {"action": "lockout"})


def test_patient_access_history_lists_every_view_and_change(client_for, administrator, nurse, scheduler, site):
    patient = factories.make_patient(site=site)
    other = factories.make_patient(site=site)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=UTC)):
        client_for(nurse).get(patient.get_absolute_url())
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, tzinfo=UTC)):
        audit_record(action="update", user=scheduler, obj=patient, summary={"fields": ["phone"]})
    audit_record(action="view", user=nurse, obj=other)
    response = client_for(administrator).get(reverse("clinic:patient-access", args=[patient.pk]))
    assert response.status_code == 200
    events = response.context["page"].events
    assert [(e.username, e.action) for e in events] == [("scheduler", "update"), ("nurse", "view")]
    page = response.content.decode()
    assert "phone" in page and patient.full_name in page
    assert AuditEvent.objects.filter(object_type="patient_access", patient=patient, username="administrator").exists()


def test_patient_access_history_is_for_administrators_only(client_for, nurse, patient):
    assert client_for(nurse).get(reverse("clinic:patient-access", args=[patient.pk])).status_code == 403


def test_each_row_shows_the_event_escaped_in_the_clinic_time_zone(client_for, administrator, nurse, site, settings):
    settings.TIME_ZONE = "America/New_York"
    patient = factories.make_patient(site=site, first_name="Zoë", last_name="O'Brien <b>", mrn="MRN555003")
    with time_machine.travel(dt.datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)):
        event = audit_record(
            action="update", user=nurse, obj=patient, summary={"fields": ["phone"], "count": 3, "note": "<i>x</i>"}
        )
    AuditEvent.objects.create(created_at=dt.datetime(2026, 3, 1, tzinfo=UTC), action="login_failed", actor="patient")
    page = report(client_for(administrator), date_to="2026-03-02").content.decode()
    access = reverse("clinic:patient-access", args=[patient.pk])
    role = f' <span class="text-muted small">{event.role}</span>' if event.role else ""
    assert (
        '<td class="text-nowrap"><time datetime="2026-03-02T09:05:09-05:00">Mon 2 Mar 2026 09:05:09</time></td>\n'
        f"      <td>nurse{role}</td>\n"
        '      <td><span class="badge text-bg-light border">Update</span></td>\n'
        f"      <td>patient #{patient.pk}</td>\n"
        f'      <td><a href="{access}">O&#39;Brien &lt;b&gt;, Zoë</a> '
        '<span class="text-muted small">MRN555003</span></td>\n'
    ) in page
    # A summary without changes reads key by key.
    assert '<span class="d-block">fields: phone</span>' in page
    assert '<span class="d-block">count: 3</span>' in page
    assert '<span class="d-block">note: &lt;i&gt;x&lt;/i&gt;</span>' in page
    # No user, not staff: a dash and the actor's badge; no patient: an empty cell.
    assert '<td>— <span class="badge bg-secondary">patient</span></td>' in page
    assert "<td></td>" in page
    assert "<i>x</i>" not in page and "<b>" not in page


def _report_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = report(client)
    assert len(listed_ids(response)) == 50
    return len(queries)


def test_a_page_of_the_report_reads_a_fixed_number_of_queries(client_for, administrator, nurse, site):
    """However many patients and users a page names, the same queries."""
    client = client_for(administrator)
    bulk_events(60, username="nurse")
    report(client)  # warm the per-process caches
    plain = _report_queries(client)
    for patient in [factories.make_patient(site=site) for _ in range(50)]:
        audit_record(action="view", user=nurse, obj=patient, summary={"page": "x"})
    assert _report_queries(client) == plain


def test_the_access_history_has_no_patient_column(client_for, administrator, nurse, patient):
    audit_record(action="view", user=nurse, obj=patient)
    page = client_for(administrator).get(reverse("clinic:patient-access", args=[patient.pk])).content.decode()
    assert ">Patient</th>" not in page
    assert reverse("clinic:patient-access", args=[patient.pk]) + '"' not in page.split("<tbody>")[1]


def test_the_page_size_is_written_into_the_statement(client_for, administrator):
    """PostgreSQL's generic plan for a prepared statement cannot count on stopping early when
    the LIMIT is a parameter; on the full audit trail it then planned every execution again."""
    bulk_events(60, username="nurse")
    with statements() as run:
        response = report(client_for(administrator), username="nurse", date_to="2026-03-02")
    assert response.status_code == 200 and len(listed_ids(response)) == selectors_audit.PAGE_SIZE
    page = [sql for sql in run if 'FROM "clinic_auditevent"' in sql and "LIMIT" in sql]
    assert len(page) == 1 and page[0].endswith(f"LIMIT {selectors_audit.PAGE_SIZE + 1}")
