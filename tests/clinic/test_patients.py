import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, EscortContact, Patient
from tests import factories
from tests.conftest import statements

pytestmark = pytest.mark.django_db


def patient_post(**overrides):
    data = {
        "mrn": "MRN555001",
        "first_name": "Dana",
        "last_name": "Quinn",
        "date_of_birth": "1985-03-02",
        "sex": "F",
        "phone": "(212) 555-0134",
        "email": "dana@example.com",
        "preferred_channel": "sms",
        "rems_enrollment_id": "RMS123456",
        "rems_enrollment_date": "2026-10-01",
        "escorts-TOTAL_FORMS": "1",
        "escorts-INITIAL_FORMS": "0",
        "escorts-MIN_NUM_FORMS": "0",
        "escorts-MAX_NUM_FORMS": "10",
        "escorts-0-name": "Chris Quinn",
        "escorts-0-phone": "212 555 0177",
        "escorts-0-relationship": "Spouse",
    }
    data.update(overrides)
    return data


def test_it_registers_a_patient_with_e164_phone_and_escort(client_for, scheduler):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post())
    patient = Patient.objects.get(mrn="MRN555001")
    assert response.status_code == 302
    assert response["Location"] == patient.get_absolute_url()
    assert patient.phone == "+12125550134"
    assert EscortContact.objects.get(patient=patient).phone == "+12125550177"
    event = AuditEvent.objects.get(action="create", patient=patient)
    assert event.user == scheduler and event.role == "Scheduler"
    assert "phone" in event.summary["fields"]


def test_it_refuses_a_duplicate_mrn(client_for, scheduler, site):
    factories.make_patient(site=site, mrn="MRN555001")
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post())
    assert response.status_code == 200
    assert "Another patient already has this MRN." in response.content.decode()
    assert Patient.objects.filter(mrn="MRN555001").count() == 1


def test_it_shows_the_phone_error_beside_the_field(client_for, scheduler):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(phone="12345"))
    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == [
        "Enter a valid phone number, e.g. (212) 555-0134 or +44 20 7946 0018."
    ]
    assert 'id="error_1_id_phone"' in response.content.decode()
    assert not Patient.objects.exists()


def test_it_refuses_a_future_birth_date(client_for, scheduler):
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(date_of_birth=future))
    assert response.context["form"].has_error("date_of_birth", code="dob_future")
    assert not Patient.objects.exists()


def test_it_refuses_a_minor(client_for, scheduler):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(date_of_birth="2015-01-01"))
    assert response.context["form"].has_error("date_of_birth", code="dob_minor")


def test_it_refuses_a_malformed_mrn(client_for, scheduler):
    response = client_for(scheduler).post(reverse("clinic:patient-create"), patient_post(mrn="ab"))
    assert response.context["form"].has_error("mrn", code="invalid_mrn")


def test_it_needs_an_address_for_the_chosen_channel(client_for, scheduler):
    response = client_for(scheduler).post(
        reverse("clinic:patient-create"), patient_post(preferred_channel="email", email="")
    )
    assert response.context["form"].has_error("email", code="email_needs_address")


def test_it_audits_a_view_of_the_record(client_for, nurse, patient):
    response = client_for(nurse).get(patient.get_absolute_url())
    assert response.status_code == 200
    assert patient.mrn in response.content.decode()
    assert AuditEvent.objects.filter(action="view", patient=patient, user=nurse, object_type="patient").count() == 1


def test_it_audits_an_update_with_changed_fields(client_for, administrator, patient):
    data = patient_post(
        mrn=patient.mrn,
        first_name=patient.first_name,
        last_name="Renamed",
        **{"escorts-TOTAL_FORMS": "0", "escorts-0-name": "", "escorts-0-phone": "", "escorts-0-relationship": ""},
    )
    response = client_for(administrator).post(reverse("clinic:patient-edit", args=[patient.pk]), data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.last_name == "Renamed"
    event = AuditEvent.objects.get(action="update", patient=patient)
    assert "last_name" in event.summary["fields"]


def test_nurses_can_read_but_not_edit(client_for, nurse, patient):
    client = client_for(nurse)
    assert client.get(reverse("clinic:patient-edit", args=[patient.pk])).status_code == 403
    response = client.post(reverse("clinic:patient-create"), patient_post())
    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()
    assert not Patient.objects.filter(mrn="MRN555001").exists()
    assert AuditEvent.objects.filter(action="denied", user=nurse).count() == 2


def test_search_finds_by_name_and_mrn_and_paginates(client_for, nurse, site):
    for i in range(30):
        factories.make_patient(site=site, last_name=f"Smith{i:02d}", first_name="Al")
    target = factories.make_patient(site=site, last_name="Zimmer", first_name="Ruth", mrn="MRN777777")
    client = client_for(nurse)
    assert "Zimmer" in client.get(reverse("clinic:patient-list"), {"q": "MRN777777"}).content.decode()
    assert "Zimmer" in client.get(reverse("clinic:patient-list"), {"q": "ruth zim"}).content.decode()
    page1 = client.get(reverse("clinic:patient-list"), {"q": "smith"})
    assert page1.context["page"].paginator.count == 30
    assert len(page1.context["page"].object_list) == 25
    assert target.last_name not in page1.content.decode()
    assert 'href="?q=smith&amp;page=2"' in page1.content.decode()  # the next page keeps the search


def test_a_search_page_counts_its_matches_in_the_same_query(client_for, nurse, site):
    for i in range(30):
        factories.make_patient(site=site, last_name=f"Smith{i:02d}", first_name="Al")
    client = client_for(nurse)
    with statements() as sql:
        page2 = client.get(reverse("clinic:patient-list"), {"q": "smith", "page": "2"})
    assert [p.last_name for p in page2.context["page"].object_list] == [f"Smith{i:02d}" for i in range(25, 30)]
    assert "Page 2 of 2" in page2.content.decode()
    patient_reads = [statement for statement in sql if "FROM clinic_patient" in statement.replace('"', "")]
    assert len(patient_reads) == 1 and "COUNT(*) OVER ()" in patient_reads[0]
    # Past the last page, or no number: the last page and the first, as before.
    assert client.get(reverse("clinic:patient-list"), {"q": "smith", "page": "9"}).context["page"].number == 2
    assert client.get(reverse("clinic:patient-list"), {"q": "smith", "page": "x"}).context["page"].number == 1
    assert "No patient matches" in client.get(reverse("clinic:patient-list"), {"q": "nobody"}).content.decode()
    everyone = client.get(reverse("clinic:patient-list")).context["page"]
    assert everyone.paginator.count == Patient.objects.count() and everyone.number == 1


def test_search_lists_matches_by_last_then_first_name(client_for, nurse, site):
    for last, first in [("Smith", "Al"), ("Alvarez", "Zed"), ("Allen", "Bo"), ("Allen", "Amy"), ("Baker", "Ann")]:
        factories.make_patient(site=site, last_name=last, first_name=first)
    page = client_for(nurse).get(reverse("clinic:patient-list"), {"q": "al"}).context["page"]
    assert [(p.last_name, p.first_name) for p in page.object_list] == [
        ("Allen", "Amy"),
        ("Allen", "Bo"),
        ("Alvarez", "Zed"),
        ("Smith", "Al"),
    ]


def test_each_search_row_links_the_record_escaped(client_for, nurse, site):
    enrolled = factories.make_patient(site=site, last_name="O'Hara <i>", first_name="Ann", mrn="MRN424242")
    factories.make_patient(site=site, last_name="O'Hara", first_name="Bea", rems_enrollment_id="")
    page = client_for(nurse).get(reverse("clinic:patient-list"), {"q": "o'hara"}).content.decode()
    assert (
        f'<td><a href="{enrolled.get_absolute_url()}">O&#x27;Hara &lt;i&gt;, Ann</a></td>\n'
        "      <td>MRN424242</td>\n"
        "      <td>17 May 1980</td>\n"
        "      <td>(212) 555-0142</td>\n"
        '      <td><span class="badge bg-success">Enrolled</span></td>'
    ) in page
    assert '<span class="badge bg-warning text-dark">Not enrolled</span>' in page
    assert "<i>" not in page


def test_patient_list_queries_do_not_grow(client_for, nurse, site, django_assert_max_num_queries):
    for _ in range(40):
        factories.make_patient(site=site)
    client = client_for(nurse)
    with django_assert_max_num_queries(18):
        assert client.get(reverse("clinic:patient-list")).status_code == 200


def test_eligibility_shows_contraindications_and_unacknowledged_cautions(client_for, nurse, site):
    p = factories.make_patient(site=site, intracerebral_haemorrhage=True, takes_opioids=True)
    screening = p.screening()
    assert not screening.eligible
    assert "Contraindication: history of intracerebral haemorrhage" in screening.reasons
    assert "Cautions need a prescriber note: opioids" in screening.reasons
    body = client_for(nurse).get(p.get_absolute_url()).content.decode()
    assert "Not eligible" in body


def test_a_prescriber_note_clears_cautions_but_not_contraindications(site):
    p = factories.make_patient(site=site, takes_opioids=True, caution_prescriber_note="Reviewed, continue.")
    assert p.screening().eligible
    p.ketamine_hypersensitivity = True
    assert not p.screening().eligible
