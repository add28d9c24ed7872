"""Bounded input on the core pages: dates in a range that means something, text no longer than
its column, page numbers and cursors that cannot reach the database as an overflow, and no
invisible format character stored or shown. A refusal is a message beside its field and
nothing written."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, EscortContact, Patient
from tests import factories
from tests.clinic.test_patients import patient_post

pytestmark = pytest.mark.django_db

HUGE = "x" * 2_400_000
RLO = "\u202e"


def refused_patient(response, field, code):
    assert response.status_code == 200
    assert response.context["form"].has_error(field, code=code)
    assert not Patient.objects.exists()
    assert not EscortContact.objects.exists()


def test_it_refuses_a_rems_enrolment_in_the_future(client_for, scheduler):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(rems_enrollment_date=tomorrow))
    refused_patient(response, "rems_enrollment_date", "rems_date_future")
    assert "The REMS enrolment date cannot be in the future." in response.content.decode()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "1985-03-01"])
def test_it_refuses_a_rems_enrolment_out_of_range(client_for, scheduler, day):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(rems_enrollment_date=day))
    code = "rems_date_future" if day.startswith("9999") else "rems_date_implausible"
    refused_patient(response, "rems_enrollment_date", code)


@pytest.mark.parametrize(
    ("day", "code"),
    [("0001-01-01", "dob_implausible"), ("1899-12-31", "dob_implausible"), ("9999-12-31", "dob_future")],
)
def test_it_refuses_a_birth_date_out_of_range(client_for, scheduler, day, code):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(date_of_birth=day))
    refused_patient(response, "date_of_birth", code)


@pytest.mark.parametrize(
    "field", ["first_name", "last_name", "mrn", "email", "rems_enrollment_id", "caution_prescriber_note"]
)
def test_it_refuses_oversized_text(client_for, scheduler, field):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(**{field: HUGE}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Patient.objects.exists()


def test_a_note_is_at_most_two_thousand_characters(client_for, scheduler):
    response = client_for(scheduler).post(
        reverse("clinic:patient-create"), patient_post(caution_prescriber_note="n" * 2001)
    )
    refused_patient(response, "caution_prescriber_note", "max_length")
    assert "Ensure this value has at most 2000 characters (it has 2001)." in response.content.decode()


def test_oversized_escort_fields_are_refused(client_for, scheduler):
    data = patient_post(**{"escorts-0-name": HUGE, "escorts-0-relationship": "r" * 61})
    response = client_for(scheduler).post(reverse("clinic:patient-create"), data)
    assert response.status_code == 200
    errors = response.context["formset"].errors[0]
    assert errors["name"][0].startswith("Ensure this value has at most 120 characters")
    assert errors["relationship"][0].startswith("Ensure this value has at most 60 characters")
    assert not Patient.objects.exists()


def test_at_most_ten_escorts(client_for, scheduler):
    data = patient_post(**{"escorts-TOTAL_FORMS": "11"})
    for i in range(11):
        data |= {
            f"escorts-{i}-name": f"Escort {i}",
            f"escorts-{i}-phone": "212 555 0177",
            f"escorts-{i}-relationship": "Friend",
        }
    response = client_for(scheduler).post(reverse("clinic:patient-create"), data)
    assert response.status_code == 200
    assert "Please submit at most 10 forms." in response.content.decode()
    assert not Patient.objects.exists()


def test_the_database_refuses_what_the_form_refuses(site):
    patient = factories.make_patient(site=site)
    for values in (
        {"caution_prescriber_note": "n" * 2001},
        {"date_of_birth": dt.date(1, 1, 1)},
        {"rems_enrollment_date": dt.date(1970, 1, 1)},  # before the birth date (1980)
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Patient.objects.filter(pk=patient.pk).update(**values)


def test_invisible_characters_are_taken_out_of_what_the_pages_show(client_for, scheduler):
    data = patient_post(
        first_name=f"Da{RLO}na",
        last_name="\u2066Quinn\u2069",
        phone=f"{RLO}+1 212 555 0134",
        **{"escorts-0-name": f"Chris{RLO} Quinn", "escorts-0-phone": f"{RLO}212 555 0177"},
    )
    client = client_for(scheduler)
    response = client.post(reverse("clinic:patient-create"), data)
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert (patient.first_name, patient.last_name, patient.phone) == ("Dana", "Quinn", "+12125550134")
    assert EscortContact.objects.get().name == "Chris Quinn"
    listing = client.get(reverse("clinic:patient-list"), {"q": f"Qu{RLO}inn"}).content.decode()
    detail = client.get(patient.get_absolute_url()).content.decode()
    for page in (listing, detail):
        assert RLO not in page and "\u2066" not in page
        assert "(212) 555-0134" in page  # shown in the national form (clinic.formats.phone)
    assert "Dana Quinn" in detail and "Chris Quinn" in detail and "(212) 555-0177" in detail


def test_a_name_written_outside_the_forms_is_stored_without_the_control(client_for, nurse, site):
    patient = factories.make_patient(site=site, first_name=f"Ev{RLO}a")
    patient.refresh_from_db()
    assert patient.first_name == "Eva"
    assert RLO not in client_for(nurse).get(patient.get_absolute_url()).content.decode()


@pytest.mark.parametrize("page", ["99999999999999999999", "9" * 5000, "-3", "0", "abc", "1e9", ""], ids=str.__len__)
@pytest.mark.parametrize("query", ["", "Qu"])
def test_any_page_number_shows_a_page(client_for, nurse, site, page, query):
    for i in range(3):
        factories.make_patient(site=site, last_name=f"Quinn{i}", mrn=f"MRN77700{i}")
    response = client_for(nurse).get(reverse("clinic:patient-list"), {"q": query, "page": page})
    assert response.status_code == 200
    assert response.context["page"].number == 1  # one page of patients: every number shows it
    assert len(response.context["page"].object_list) == 3


def test_an_oversized_search_is_an_error_beside_the_field(client_for, nurse, patient):
    response = client_for(nurse).get(reverse("clinic:patient-list"), {"q": HUGE})
    assert response.status_code == 200
    assert response.context["form"].has_error("q", code="max_length")


@pytest.mark.parametrize("view", ["clinic:audit", "clinic:audit-export"])
@pytest.mark.parametrize(
    "dates",
    [
        {"date_to": "9999-12-31"},
        {"date_from": "9999-12-31", "date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_from": "0001-01-01", "date_to": "0001-01-01"},
    ],
)
def test_audit_dates_out_of_range_are_an_error_beside_the_field(client_for, administrator, view, dates):
    response = client_for(administrator).get(reverse(view), dates, follow=True)
    assert response.status_code == 200
    # The export's link goes through the page asking for the job, which sends invalid filters back.
    assert response.redirect_chain[-1:] == ([] if view == "clinic:audit" else [(f"/audit/?{_query(dates)}", 302)])
    form = response.context["form"]
    for field in dates:
        assert form.has_error(field, code="date_out_of_range")
    assert "Enter a date between 1900-01-01 and" in response.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()


def _query(params):
    from urllib.parse import urlencode

    return urlencode(params)


@pytest.mark.parametrize(
    "cursor",
    [
        "AAAA",
        "MDAwMS0wMS0wMVQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # 0001-01-01|99999999999999999999
        "OTk5OS0xMi0zMVQyMzo1OTo1OS0xNDowMHwx",  # 9999-12-31T23:59:59-14:00|1
        "x" * 10_000,
    ],
    ids=["short", "huge-id", "year-9999", "long"],
)
def test_a_malformed_or_out_of_range_cursor_shows_a_page(client_for, administrator, cursor):
    client = client_for(administrator)
    assert client.get(reverse("clinic:audit"), {"after": cursor}).status_code == 200
    assert client.get(reverse("clinic:audit"), {"before": cursor}).status_code == 200


@pytest.mark.parametrize(
    "dates",
    [
        {"date_from": "9999-12-30", "date_to": "9999-12-31"},
        {"date_from": "0001-01-01", "date_to": "0001-01-02"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
    ],
)
def test_report_dates_out_of_range_are_an_error_beside_the_field(client_for, administrator, site, dates):
    client = client_for(administrator)
    response = client.get(reverse("monitoring:reports"), dates)
    assert response.status_code == 200
    assert response.context["form"].has_error("date_from", code="date_out_of_range")
    assert "Enter a date between 1900-01-01 and" in response.content.decode()
    # The table's export is refused with the same dates: nothing is asked for.
    csv = client.get(reverse("monitoring:reports-csv", kwargs={"slug": "no-show-rate"}), dates, follow=True)
    assert csv.redirect_chain[-1][0].startswith(reverse("monitoring:reports") + "?")
    assert csv.context["form"].has_error("date_from", code="date_out_of_range")
    assert "The filters of this export are not valid" in csv.content.decode()


def lock_out(username):
    AccessAttempt.objects.create(
        username=username,
        ip_address="127.0.0.1",
        user_agent="test",
        failures_since_start=5,
        attempt_time=timezone.now(),
        get_data="",
        post_data="",
    )


@pytest.mark.parametrize("username", [HUGE, "", "n" * 151], ids=["huge", "empty", "151"])
def test_unlocking_a_malformed_user_name_changes_nothing(client_for, administrator, nurse, username):
    lock_out("nurse")
    response = client_for(administrator).post(reverse("clinic:audit-unlock"), {"username": username}, follow=True)
    assert response.status_code == 200
    assert "Choose a locked-out user name from the list." in response.content.decode()
    assert AccessAttempt.objects.filter(username="nurse").exists()
    assert not AuditEvent.objects.filter(action="unlock").exists()


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/" + "a" * 3000], ids=["other-site", "no-scheme", "long"]
)
def test_acknowledging_an_alert_goes_back_to_a_page_of_the_site_only(client_for, nurse, target):
    from clinic.services import alert_raise

    alert, _ = alert_raise(kind="test", dedupe_key="test:1", message="Check chair 2")
    response = client_for(nurse).post(reverse("clinic:alert-acknowledge", args=[alert.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("clinic:alerts")


@pytest.mark.parametrize("pk", ["99999999999999999999", "9223372036854775808", "0"])
def test_a_huge_patient_id_is_not_found(client_for, administrator, pk):
    client = client_for(administrator)
    for suffix in ("", "edit/", "access/"):
        assert client.get(f"/patients/{pk}/{suffix}").status_code == 404
