"""Patient import from a CSV file: the template, a preview with each row's errors that writes
nothing, the import in one transaction, idempotent by MRN, audited; administrators only."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic import imports
from clinic.audit import audit_chain_verify
from clinic.models import AuditEvent, Patient

pytestmark = pytest.mark.django_db

URL = "clinic:patient-import"


def csv_file(rows: list[dict], name="patients.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=imports.COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({**{c: "" for c in imports.COLUMNS}, **row})
    return SimpleUploadedFile(name, out.getvalue().encode(), content_type="text/csv")


def good(n: int, **overrides) -> dict:
    row = {
        "mrn": f"IMP{n:06d}",
        "first_name": "Alex",
        "last_name": f"Imported{n}",
        "date_of_birth": "1980-05-17",
        "sex": "F",
        "phone": "(212) 555-0134",
        "site": "Riverside",
    }
    row.update(overrides)
    return row


def post(client, rows, mode):
    return client.post(reverse(URL), {"file": csv_file(rows), "mode": mode})


def test_the_template_downloads_with_every_column(client_for, administrator):
    response = client_for(administrator).get(reverse("clinic:patient-import-template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header = response.content.decode().splitlines()[0]
    assert header.split(",") == list(imports.COLUMNS)


def test_a_dry_run_shows_what_would_happen_and_writes_nothing(client_for, administrator, site):
    response = post(client_for(administrator), [good(1), good(2)], "check")
    page = response.content.decode()
    assert response.status_code == 200
    assert "2 new" in page and "Every row is right" in page
    assert "<td>Sat 17 May 1980</td>" in page  # the birth date as read, in the clinic's format
    assert not Patient.objects.filter(mrn__startswith="IMP").exists()


def test_each_row_shows_its_errors_and_nothing_is_imported(client_for, administrator, site):
    rows = [
        good(1),
        good(2, mrn="bad"),
        good(3, phone="12"),
        good(4, date_of_birth="17/05/1980"),
        good(1, first_name="Twice"),
        good(5, site="Nowhere"),
    ]
    response = post(client_for(administrator), rows, "import")
    plan = response.context["plan"]
    errors = {row.number: row.errors for row in plan.errors}
    assert set(errors) == {3, 4, 5, 6, 7}
    assert "mrn" in errors[3] and "phone" in errors[4] and "date_of_birth" in errors[5]
    assert "also on line 2" in errors[6]["mrn"][0]
    assert "No site is called" in errors[7]["site"][0]
    page = response.content.decode()
    assert "Nothing was imported" in page and "An MRN is 6 to 12 capital letters" in page
    assert not Patient.objects.filter(mrn__startswith="IMP").exists()


def test_the_import_writes_every_row_and_again_changes_nothing(client_for, administrator, site):
    client = client_for(administrator)
    rows = [good(n) for n in range(1, 6)]
    response = post(client, rows, "import")
    assert response.status_code == 302
    assert Patient.objects.filter(mrn__startswith="IMP").count() == 5
    patient = Patient.objects.get(mrn="IMP000001")
    assert patient.phone == "+12125550134" and patient.site == site and patient.preferred_channel == "sms"
    audit = AuditEvent.objects.get(object_type="patient_import", action="create")
    assert audit.summary == {"new": 5, "updated": 0, "unchanged": 0, "file": "patients.csv"}
    assert audit.user == administrator
    # One row per registered patient, on the patient's record, pointing at the import's row.
    rows_of_patients = AuditEvent.objects.filter(object_type="patient", action="create").order_by("id")
    assert [e.patient.mrn for e in rows_of_patients] == [f"IMP{n:06d}" for n in range(1, 6)]
    first = rows_of_patients[0]
    assert first.user == administrator and first.object_id == str(patient.pk) and first.patient_id == patient.pk
    assert first.summary["import"] == audit.pk and first.summary["line"] == 2
    assert "phone" in first.summary["fields"] and "email" not in first.summary["fields"]
    assert audit_chain_verify().intact

    again = post(client, rows, "import")
    assert again.status_code == 302
    assert Patient.objects.filter(mrn__startswith="IMP").count() == 5
    assert AuditEvent.objects.filter(object_type="patient_import", action="create").count() == 2
    assert AuditEvent.objects.filter(object_type="patient_import").latest("id").summary["unchanged"] == 5
    assert AuditEvent.objects.filter(object_type="patient").count() == 5  # nothing changed: no new row


def test_the_import_shows_on_the_patients_access_report(client_for, administrator, site):
    client = client_for(administrator)
    post(client, [good(1)], "import")
    patient = Patient.objects.get(mrn="IMP000001")
    response = client.get(reverse("clinic:patient-access", args=[patient.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"patient #{patient.pk}" in page and "file: patients.csv" in page


def test_a_patient_already_here_is_updated_by_mrn_keeping_what_the_file_leaves_empty(
    client_for, administrator, patient
):
    row = {
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": "Renamed",
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
    }
    old_name = patient.last_name
    response = post(client_for(administrator), [row], "import")
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.last_name == "Renamed"
    assert patient.phone == "+12125550142" and patient.rems_enrollment_id  # empty cells kept the values
    audit = AuditEvent.objects.get(object_type="patient_import", action="create")
    assert audit.summary["updated"] == 1
    update = AuditEvent.objects.get(patient=patient, action="update")
    assert update.summary["fields"] == ["last_name"] and update.summary["import"] == audit.pk
    assert update.summary["changes"] == {"last_name": [old_name, "Renamed"]}


def test_a_file_that_is_not_the_template_is_refused_beside_the_field(client_for, administrator):
    upload = SimpleUploadedFile("x.csv", b"name;birth\nA;B\n", content_type="text/csv")
    response = client_for(administrator).post(reverse(URL), {"file": upload, "mode": "check"})
    assert "The first line must name the columns of the template" in response.content.decode()


@pytest.mark.parametrize("role", ["scheduler", "nurse", "prescriber"])
def test_only_administrators_import(client_for, personas, role, site):
    client = client_for(personas[role])
    assert client.get(reverse(URL)).status_code == 403
    assert post(client, [good(1)], "import").status_code == 403
    assert not Patient.objects.filter(mrn__startswith="IMP").exists()
