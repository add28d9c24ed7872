"""The board on a tablet: each chair's card, the device-rest countdown, overdue rows, an alert
acknowledged from the board, and the idle sign-out taking the whole window to the sign-in page."""

import datetime as dt
from urllib.parse import quote

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AuditEvent, StaffAlert
from tests import factories
from tests.monitoring.conftest import DAY_START

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "X-Idle-Refresh": "1"}


def test_each_card_names_its_cells_and_counts_down_the_device_rest(client_for, nurse, session, run_to_observation):
    run_to_observation(session, devices=1)  # 56 mg: two devices planned, one given at 09:10
    with time_machine.travel(DAY_START + dt.timedelta(minutes=12), tick=False):
        page = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    for label in ("Chair", "Status", "Since dose", "Next check", "Latest vitals", "Discharge"):
        assert f'data-label="{label}"' in page
    # The server gives the instant (09:15 local); the page's script only counts down.
    assert 'data-countdown-until="2026-11-17T09:15:00-05:00"' in page
    assert "Next device" in page


def test_no_countdown_once_every_device_is_given(client_for, nurse, session, run_to_observation):
    run_to_observation(session)  # both devices
    with time_machine.travel(DAY_START + dt.timedelta(minutes=20), tick=False):
        page = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    assert "Next device" not in page


def test_an_overdue_row_stands_out(client_for, nurse, session, run_to_observation):
    run_to_observation(session)
    with time_machine.travel(DAY_START + dt.timedelta(minutes=52), tick=False):  # the 40-minute check is due
        on_time = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    with time_machine.travel(DAY_START + dt.timedelta(minutes=62), tick=False):
        late = client_for(nurse).get(reverse("monitoring:board")).content.decode()
    assert "board-overdue" not in on_time
    assert 'class="status-in_observation board-overdue"' in late


def test_a_nurse_acknowledges_an_alert_from_the_board(client_for, nurse, site):
    alert = StaffAlert.objects.create(kind="x", dedupe_key="k1", message="Chair 2 checkpoint overdue", site=site)
    client = client_for(nurse)
    board = client.get(reverse("monitoring:board"), {"site": site.pk}).content.decode()
    assert reverse("clinic:alert-acknowledge", args=[alert.pk]) in board
    back = f"{reverse('monitoring:board')}?site={site.pk}"
    assert f'name="next" value="{back}"' in board
    response = client.post(reverse("clinic:alert-acknowledge", args=[alert.pk]), {"next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    assert "Alert acknowledged." in response.content.decode()
    assert "Chair 2 checkpoint overdue" not in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse and alert.acknowledged_at is not None


def test_the_acknowledgement_goes_back_only_to_a_page_of_this_host(client_for, nurse, site):
    alert = StaffAlert.objects.create(kind="x", dedupe_key="k1", message="Chair 2 checkpoint overdue", site=site)
    response = client_for(nurse).post(
        reverse("clinic:alert-acknowledge", args=[alert.pk]), {"next": "https://elsewhere.example/board/"}
    )
    assert response["Location"] == reverse("clinic:alerts")


def test_a_scheduler_reads_the_boards_alerts_without_acknowledging_them(client_for, scheduler, site):
    StaffAlert.objects.create(kind="x", dedupe_key="k1", message="Chair 2 checkpoint overdue", site=site)
    page = client_for(scheduler).get(reverse("monitoring:board")).content.decode()
    assert "Chair 2 checkpoint overdue" in page
    assert "Acknowledge" not in page


def test_prescriber_alerts_show_on_a_prescribers_board_only(client_for, nurse, prescriber, site):
    StaffAlert.objects.create(
        kind="dosing_blocked", dedupe_key="k1", message="Dosing blocked: Pat Example", site=site, audience="prescriber"
    )
    assert "Dosing blocked: Pat Example" in client_for(prescriber).get(reverse("monitoring:board")).content.decode()
    assert "Dosing blocked: Pat Example" not in client_for(nurse).get(reverse("monitoring:board")).content.decode()


# --- Idle sign-out --------------------------------------------------------------------


def test_a_refresh_after_the_idle_limit_takes_the_whole_window_to_sign_in(client, nurse, site):
    shown = f"http://testserver/board/?site={site.pk}"
    with time_machine.travel(DAY_START, tick=False) as traveller:
        client.force_login(nurse)
        client.get(reverse("monitoring:board"))
        traveller.shift(dt.timedelta(minutes=16))
        response = client.get(
            reverse("monitoring:board-table"), {"site": site.pk}, headers={**HTMX, "HX-Current-URL": shown}
        )
    assert response.status_code == 200
    assert response.content == b""  # nothing pasted into the board
    assert response["HX-Redirect"] == f"{reverse('login')}?next={quote(f'/board/?site={site.pk}', safe='')}"
    assert AuditEvent.objects.filter(action="logout", summary__reason="idle timeout").exists()
    # Later refreshes, signed out, are sent the same way.
    again = client.get(reverse("monitoring:board-table"), headers={**HTMX, "HX-Current-URL": shown})
    assert again["HX-Redirect"].startswith(reverse("login") + "?next=%2Fboard%2F")


def test_signing_in_again_returns_to_the_board(client, nurse, site):
    target = client.get(
        reverse("monitoring:board-table"),
        headers={**HTMX, "HX-Current-URL": f"http://testserver/board/?site={site.pk}"},
    )["HX-Redirect"]
    form = client.get(target).content.decode()
    assert 'name="next"' in form and f"/board/?site={site.pk}" in form
    response = client.post(
        target, {"username": "nurse", "password": factories.PASSWORD, "next": f"/board/?site={site.pk}"}
    )
    assert response.status_code == 302 and response["Location"] == f"/board/?site={site.pk}"


def test_a_page_of_another_host_is_never_the_way_back(client, site):
    response = client.get(
        reverse("monitoring:board-table"), headers={**HTMX, "HX-Current-URL": "https://elsewhere.example/board/"}
    )
    assert response["HX-Redirect"] == f"{reverse('login')}?next=%2F"


def test_a_page_load_after_the_idle_limit_is_still_an_ordinary_redirect(client, nurse):
    with time_machine.travel(DAY_START, tick=False) as traveller:
        client.force_login(nurse)
        client.get(reverse("monitoring:board"))
        traveller.shift(dt.timedelta(minutes=16))
        response = client.get(reverse("monitoring:board"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "HX-Redirect" not in response
