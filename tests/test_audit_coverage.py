"""Every page that shows patient data writes exactly one audit row per request, for every role
that may open it (the roles come from the access matrix), the patient's own link included;
so do the acts on such pages that the walk can make without a form (alert acknowledgement,
the patient confirming their ride).

Every URL the access matrix lets someone open is named here, either as a page of patient data
or as a page without any, so a new page has to be put on one side."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, StaffAlert
from scheduling.links import confirm_token
from scheduling.models import Session, TransportArrangement
from tests.test_access_matrix import EXPECTED, ROLES, world  # noqa: F401  (world: the matrix's fixture)

PATIENT_DATA = {
    "clinic:patient-list",
    "clinic:patient-detail",
    "clinic:patient-edit",
    "clinic:patient-access",
    "clinic:audit",  # names the patients of the rows shown
    "clinic:audit-export",
    "clinic:alerts",
    "clinic:outbox",  # patients' addresses and messages
    "confirm:session",
    "scheduling:day",
    "scheduling:week",
    "scheduling:transport-list",
    "scheduling:course-detail",
    "scheduling:session-detail",
    "monitoring:board",
    "monitoring:board-table",
    "monitoring:session-day",
    "monitoring:rems-record",
    "monitoring:rems-worklist",
    "monitoring:reports",  # counts per site, audited as a report
    "monitoring:reports-csv",
    "monitoring:outcomes-report",
    "monitoring:outcomes-csv",
    "monitoring:patient-history",
    "monitoring:questionnaire",
    "scheduling:review-list",
    "fhir:patient-everything",
    "calendar:patient-session",  # the patient's own calendar file of a session
    "monitoring:rems-pdf",
}
# Pages anyone may open that show no patient's data.
NO_PATIENT_DATA = {
    "healthz",
    "favicon",
    "monitoring:rems-period-pdf",  # the period form; each file it gives is audited (tests/monitoring/test_rems_pdf.py)
    "fhir:code-system",  # the meaning of the clinic's codes; audited all the same (tests/monitoring/test_fhir.py)
    "login",
    "account",
    "second-factor-setup",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "clinic:patient-create",  # an empty form
    "clinic:audit-lockouts",  # staff user names
    "clinic:exports",  # the export jobs, not their files (each download is audited)
    "clinic:integrations",  # other systems' access tokens
    "clinic:patient-import",  # an empty upload form
    "clinic:patient-import-template",  # the CSV columns, no patient
}


def _openable(name) -> list[str]:
    return [role for role in ROLES if EXPECTED[name][role] == 200]


def test_every_page_someone_may_open_is_classified():
    openable = {name for name in EXPECTED if _openable(name)}
    unclassified = openable - PATIENT_DATA - NO_PATIENT_DATA
    assert not unclassified, f"put these in PATIENT_DATA or NO_PATIENT_DATA in {__file__}: {sorted(unclassified)}"
    assert not (PATIENT_DATA & NO_PATIENT_DATA)


def _client_as(client, personas, role):
    client.logout()
    if role != "anonymous":
        client.force_login(personas[role])  # writes its login row before the count starts
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(n for n in PATIENT_DATA if n in EXPECTED and _openable(n)))
def test_each_page_of_patient_data_writes_one_audit_row_per_request(name, world, personas, client):  # noqa: F811
    url = reverse(name, kwargs=EXPECTED[name]["kwargs"](world))
    rows = {}
    for role in _openable(name):
        _client_as(client, personas, role)
        before = AuditEvent.objects.count()
        response = client.get(url)
        if response.status_code != 200:  # e.g. a download started as a background job: no data shown
            continue
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        rows[role] = AuditEvent.objects.count() - before
    assert rows == {role: 1 for role in rows}, name


@pytest.fixture
def confirmed_link(site, patient):
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    session = Session.objects.create(
        patient=patient,
        chair=site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2),
        planned_dose_mg=56,
    )
    return session, confirm_token(session.pk)


@pytest.mark.django_db
def test_the_patient_link_audits_each_view_and_the_confirmation_once(client, confirmed_link):
    session, token = confirmed_link
    before = AuditEvent.objects.count()
    assert client.get(reverse("confirm:session", args=[token])).status_code == 200
    view = AuditEvent.objects.latest("id")
    assert (view.actor, view.action, view.patient_id) == ("patient", "view", session.patient_id)
    response = client.post(reverse("confirm:session", args=[token]), {"name": "Sam Driver", "phone": "2125550123"})
    assert response.status_code == 302
    assert TransportArrangement.objects.get(session=session).status == "confirmed_patient"
    assert AuditEvent.objects.count() - before == 2
    assert client.get(reverse("confirm:done", args=[token])).status_code == 200
    done = AuditEvent.objects.latest("id")
    assert (done.actor, done.summary, done.patient_id) == ("patient", {"page": "confirm-done"}, session.patient_id)
    assert AuditEvent.objects.count() - before == 3


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["nurse", "prescriber", "administrator"])
def test_acknowledging_an_alert_writes_one_audit_row(role, personas, client, patient):
    alert = StaffAlert.objects.create(
        kind="vitals", message="BP 190/100", audience="nurse", dedupe_key=f"c-{role}", patient=patient
    )
    _client_as(client, personas, role)
    before = AuditEvent.objects.count()
    response = client.post(reverse("clinic:alert-acknowledge", args=[alert.pk]))
    assert response.status_code == 302
    assert AuditEvent.objects.count() - before == 1
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.object_type, event.patient_id) == ("update", "staffalert", patient.pk)
    assert event.summary["changes"]["acknowledged_by"] == [None, personas[role].pk]


def test_the_walk_covers_the_pages_the_issue_names():
    assert {"clinic:alerts", "confirm:session", "monitoring:board-table"} <= PATIENT_DATA
