"""The README's role table and the code agree: every cell of the table is checked against
what the role's persona gets from the pages (a cell "–" is refused, "read" may open but not
act, anything else may act)."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from scheduling.models import Session
from tests import factories

README = Path(__file__).resolve().parents[1] / "README.md"
ROLES = ("scheduler", "nurse", "prescriber", "administrator")


def role_table() -> dict[str, dict[str, str]]:
    """{row label: {role: cell}} of the table under "## Roles"."""
    section = README.read_text().split("\n## Roles\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip().lower() for cell in lines[0].strip("|").split("|")]
    assert header[1:] == list(ROLES), header
    table = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(ROLES, cells[1:], strict=True))
    return table


def level(cell: str) -> str:
    if cell in ("–", "-"):
        return "none"
    return "read" if cell == "read" else "act"


def _ok(response) -> bool:
    return response.status_code not in (302, 403, 404, 405)


def _get(client, name, **kwargs) -> bool:
    return _ok(client.get(reverse(name, kwargs=kwargs or None)))


def _post_allowed(client, name, **kwargs) -> bool:
    """An empty POST: refused (403) without the permission, a form error or redirect with it."""
    return client.post(reverse(name, kwargs=kwargs or None), {}).status_code != 403


# row label -> (may read, may act), each a function of (client, world)
PROBES = {
    "patients": (
        lambda c, w: _get(c, "clinic:patient-detail", pk=w["patient"].pk),
        lambda c, w: _get(c, "clinic:patient-create"),
    ),
    "schedule, courses, transport": (
        lambda c, w: _get(c, "scheduling:day"),
        lambda c, w: _post_allowed(c, "scheduling:session-cancel", pk=w["session"].pk),
    ),
    "observation board and session day page": (
        lambda c, w: _get(c, "monitoring:board") and _get(c, "monitoring:session-day", pk=w["session"].pk),
        lambda c, w: False,
    ),
    "session day actions (check-in, vitals, dose, discharge)": (
        lambda c, w: _post_allowed(c, "monitoring:check-in", pk=w["session"].pk),
        lambda c, w: _post_allowed(c, "monitoring:vitals-record", pk=w["session"].pk),
    ),
    "override a pre-dose block / discharge reading": (
        lambda c, w: _post_allowed(c, "monitoring:predose-override", pk=w["session"].pk),
        lambda c, w: _post_allowed(c, "monitoring:discharge-override", pk=w["session"].pk),
    ),
    "course reviews (continue, next phase, step back, stop)": (
        lambda c, w: _get(c, "scheduling:review-list"),
        lambda c, w: _post_allowed(c, "scheduling:course-review", pk=0),
    ),
    "audit report, REMS worklist, compliance reports, outbox": (
        lambda c, w: all(_get(c, n) for n in ("clinic:audit", "monitoring:rems-worklist", "monitoring:reports")),
        lambda c, w: _get(c, "clinic:outbox"),
    ),
    "sites, chairs, opening hours, closures, protocols, clinical thresholds (Django admin)": (
        lambda c, w: _get(c, "admin:clinic_site_changelist"),
        lambda c, w: (
            all(
                _get(c, n) for n in ("admin:clinic_site_add", "admin:clinic_chair_add", "admin:scheduling_protocol_add")
            )
            and _get(c, "admin:monitoring_clinicalthresholds_change", object_id=w["thresholds"])
        ),
    ),
    "staff accounts (Django admin)": (
        lambda c, w: _get(c, "admin:auth_user_changelist"),
        lambda c, w: _get(c, "admin:auth_user_add"),
    ),
}


def test_every_row_of_the_table_has_a_probe():
    assert set(role_table()) == set(PROBES)


@pytest.fixture
def world(site):
    from monitoring.models import ClinicalThresholds

    patient = factories.make_patient(site=site)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(hours=1)
    session = Session.objects.create(
        patient=patient,
        chair=site.chairs.first(),
        start=start,
        planned_end=start + dt.timedelta(hours=2),
        planned_dose_mg=56,
    )
    return {"patient": patient, "session": session, "thresholds": ClinicalThresholds.current().pk}


@pytest.mark.django_db
@pytest.mark.parametrize("row", sorted(PROBES))
def test_the_role_table_row_matches_the_code(row, world, personas, client):
    may_read, may_act = PROBES[row]
    got, expected = {}, {}
    for role in ROLES:
        client.logout()
        client.force_login(personas[role])
        reads = may_read(client, world)
        acts = reads and may_act(client, world)
        got[role] = "act" if acts else "read" if reads else "none"
        expected[role] = level(role_table()[row][role])
    assert got == expected, f"README row {row!r}"


def test_the_table_is_where_the_readme_says():
    assert re.search(r"\| +\| Scheduler \| Nurse \| Prescriber \| Administrator \|", README.read_text())
