"""The FHIR R4 export: every resource validates against FHIR R4 (4.0.1) with the models of
fhirclient, with the LOINC codes and UCUM units of DOMAIN.md; access by token or staff
sign-in, every request audited."""

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from clinic import services_integrations
from clinic.models import AuditEvent
from monitoring import services
from monitoring.models import OutcomeScore, VitalsReading
from tests.monitoring.conftest import DAY_START, NORMAL

pytestmark = pytest.mark.django_db

DOSED = DAY_START + dt.timedelta(minutes=10)


# FHIR R4 4.0.1's required bindings of the codes the export sends (fhirclient checks the
# structure, the types and the formats of dates and instants, but not these value sets).
R4_REQUIRED_CODES = {
    ("Bundle", "type"): {
        "document", "message", "transaction", "transaction-response", "batch", "batch-response",
        "history", "searchset", "collection",
    },
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Encounter", "status"): {
        "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
        "entered-in-error", "unknown",
    },
    ("Observation", "status"): {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown",
    },
    ("MedicationAdministration", "status"): {
        "in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown",
    },
}  # fmt: skip
R4_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def r4_model(resource: dict):
    """``resource`` read by fhirclient's FHIR R4 (4.0.1) model of its type, strictly: a missing
    required element, an unknown element, a wrong type or a malformed date raises
    ``FHIRValidationError``. Written back, it must give the same JSON (nothing was dropped)."""
    model = FHIRElementFactory.instantiate(resource["resourceType"], resource)
    assert model.resource_type == resource["resourceType"], f"{resource['resourceType']} is not an R4 resource"
    assert model.as_json() == resource
    if "id" in resource:
        assert R4_ID.fullmatch(resource["id"]), resource["id"]
    for (resource_type, element), codes in R4_REQUIRED_CODES.items():
        if resource["resourceType"] == resource_type and element in resource:
            assert resource[element] in codes, f"{resource_type}.{element} {resource[element]!r} is not R4"
    return model


def validated(data: dict) -> dict:
    """``data`` as FHIR R4 reads it (raises on any invalid resource), every entry too."""
    r4_model(data)
    for entry in data.get("entry", []):
        r4_model(entry["resource"])
    return data


def test_the_r4_check_refuses_what_r4_does_not_have():
    """The check above can fail: R4B/R5 elements, a missing required element, a bad instant."""
    observation = {
        "resourceType": "Observation",
        "id": "hr-1",
        "status": "final",
        "code": {"text": "Heart rate"},
        "valueInteger": 72,
    }
    r4_model(observation)
    with pytest.raises(FHIRValidationError):
        r4_model({**observation, "triggeredBy": [{"type": "reflex"}]})  # R5 only
    with pytest.raises(FHIRValidationError):
        r4_model({key: value for key, value in observation.items() if key != "code"})
    with pytest.raises(FHIRValidationError):
        r4_model({**observation, "issued": "2026-11-17 14:02"})
    with pytest.raises(AssertionError):
        r4_model({**observation, "status": "done"})


def by_id(bundle: dict) -> dict:
    return {(e["resource"]["resourceType"], e["resource"]["id"]): e["resource"] for e in bundle["entry"]}


def codes(resource: dict) -> set[str]:
    return {c["code"] for c in resource["code"]["coding"]}


@pytest.fixture
def fhir_token(administrator):
    token, secret = services_integrations.integration_token_create(
        name="EHR interface", purpose="fhir", site=None, user=administrator
    )
    return secret


@pytest.fixture
def discharged(session, run_to_discharge, nurse):
    run_to_discharge(session, dosed_at=DOSED, checkpoint_values={**NORMAL, "systolic": 150})
    OutcomeScore.objects.create(
        session=session,
        patient=session.patient,
        instrument="phq9",
        source="patient",
        answers=[1, 1, 2, 1, 0, 1, 1, 0, 0],
        functional=1,
        total=7,
        recorded_at=DAY_START - dt.timedelta(hours=20),
        updated_at=DAY_START - dt.timedelta(hours=20),
    )
    return session


def everything(client, patient, **headers):
    return client.get(reverse("fhir:patient-everything", args=[patient.pk]), **headers)


def test_everything_is_a_valid_r4_bundle_with_codes_and_units(client, fhir_token, discharged):
    response = everything(client, discharged.patient, HTTP_AUTHORIZATION=f"Bearer {fhir_token}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = validated(response.json())
    assert bundle["type"] == "searchset"
    resources = by_id(bundle)
    patient = resources["Patient", str(discharged.patient.pk)]
    assert patient["identifier"][0]["value"] == discharged.patient.mrn
    assert patient["birthDate"] == "1980-05-17" and patient["gender"] == "female"

    encounter = resources["Encounter", str(discharged.pk)]
    assert encounter["status"] == "finished" and encounter["class"]["code"] == "AMB"

    administration = next(r for r in resources.values() if r["resourceType"] == "MedicationAdministration")
    assert administration["status"] == "completed"
    assert administration["dosage"]["dose"] == {
        "value": 56.0,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert administration["contained"][0]["batch"]["lotNumber"] == "LOT42"
    assert "2 of 2 nasal devices" in administration["dosage"]["text"]
    assert administration["context"]["reference"] == f"Encounter/{discharged.pk}"

    observations = [r for r in resources.values() if r["resourceType"] == "Observation"]
    vitals = [o for o in observations if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    # Three readings (pre-dose, 40 minutes, before discharge): a panel and four members each.
    assert len(vitals) == 15
    panels = [o for o in vitals if "85353-1" in codes(o)]
    assert len(panels) == 3 and all(len(p["hasMember"]) == 4 for p in panels)
    bps = [o for o in vitals if "85354-9" in codes(o)]
    assert {(c["code"]["coding"][0]["code"], c["valueQuantity"]["code"]) for c in bps[1]["component"]} == {
        ("8480-6", "mm[Hg]"),
        ("8462-4", "mm[Hg]"),
    }
    assert sorted(c["valueQuantity"]["value"] for c in bps[1]["component"]) == [82, 150]
    units = {code: o["valueQuantity"]["code"] for o in vitals for code in codes(o) if "valueQuantity" in o}
    assert units == {"8867-4": "/min", "9279-1": "/min", "59408-5": "%", "2708-6": "%"}
    assert all(o["meta"]["profile"][0].startswith("http://hl7.org/fhir/StructureDefinition/") for o in vitals)

    phq9 = next(o for o in observations if "44261-6" in codes(o))
    assert phq9["valueQuantity"]["value"] == 7 and phq9["category"][0]["coding"][0]["code"] == "survey"

    # Sedation and dissociation of each reading, in the clinic's code system (no LOINC code).
    system = f"{settings.PUBLIC_BASE_URL}/fhir/CodeSystem/clinic"
    moaas = [o for o in observations if "moaas" in codes(o)]
    assert [o["valueInteger"] for o in moaas] == [5, 5, 5]
    assert {c["system"] for o in moaas for c in o["code"]["coding"]} == {system}
    dissociation = [o for o in observations if "dissociation" in codes(o)]
    assert [o["valueBoolean"] for o in dissociation] == [False, False, False]
    assert all(o["category"][0]["coding"][0]["code"] == "survey" for o in moaas + dissociation)
    systems = {c["system"] for r in resources.values() for c in r.get("code", {}).get("coding", [])}
    assert systems == {"http://loinc.org", system}


def test_a_corrected_reading_is_entered_in_error_and_its_correction_amended(
    client, fhir_token, session, run_to_observation, nurse
):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=41), tick=False):
        wrong = services.vitals_record(
            session=session, user=nurse, kind="checkpoint", checkpoint_minute=40, values={**NORMAL, "heart_rate": 170}
        )
        right = services.vitals_correct(reading=wrong, user=nurse, values=NORMAL, reason="Typed 170 for 70")
    bundle = validated(everything(client, session.patient, HTTP_AUTHORIZATION=f"Bearer {fhir_token}").json())
    resources = by_id(bundle)
    assert resources["Observation", f"hr-{wrong.pk}"]["status"] == "entered-in-error"
    assert resources["Observation", f"vitals-{wrong.pk}"]["status"] == "entered-in-error"
    corrected = resources["Observation", f"vitals-{right.pk}"]
    assert corrected["status"] == "amended"
    assert corrected["derivedFrom"] == [{"reference": f"Observation/vitals-{wrong.pk}"}]
    assert resources["Observation", f"hr-{right.pk}"]["valueQuantity"]["value"] == 72
    assert resources["Observation", f"hr-{right.pk}"]["note"][0]["text"] == "Correction: Typed 170 for 70"


def test_sedation_and_dissociation_are_exported_with_the_cadss_total_and_corrections(
    client, fhir_token, session, run_to_observation, nurse
):
    run_to_observation(session, dosed_at=DOSED)
    with time_machine.travel(DOSED + dt.timedelta(minutes=41), tick=False):
        wrong = services.vitals_record(
            session=session,
            user=nurse,
            kind="checkpoint",
            checkpoint_minute=40,
            values={**NORMAL, "moaas": 2, "dissociation": True, "cadss": 31},
        )
        right = services.vitals_correct(
            reading=wrong,
            user=nurse,
            values={**NORMAL, "moaas": 3, "dissociation": True, "cadss": 13},
            reason="MOAA/S and CADSS of the wrong patient",
        )
    resources = by_id(validated(everything(client, session.patient, HTTP_AUTHORIZATION=f"Bearer {fhir_token}").json()))

    moaas = resources["Observation", f"moaas-{right.pk}"]
    assert moaas["status"] == "amended" and moaas["valueInteger"] == 3
    assert moaas["code"]["coding"][0] == {
        "system": f"{settings.PUBLIC_BASE_URL}/fhir/CodeSystem/clinic",
        "code": "moaas",
        "display": "Modified Observer's Assessment of Alertness/Sedation (MOAA/S) score",
    }
    assert moaas["effectiveDateTime"] == resources["Observation", f"vitals-{right.pk}"]["effectiveDateTime"]
    assert moaas["derivedFrom"] == [{"reference": f"Observation/moaas-{wrong.pk}"}]
    dissociation = resources["Observation", f"dissociation-{right.pk}"]
    assert dissociation["valueBoolean"] is True
    assert [(c["code"]["coding"][0]["code"], c["valueInteger"]) for c in dissociation["component"]] == [
        ("cadss-total", 13)
    ]
    assert resources["Observation", f"moaas-{wrong.pk}"]["status"] == "entered-in-error"
    assert resources["Observation", f"moaas-{wrong.pk}"]["valueInteger"] == 2
    assert resources["Observation", f"dissociation-{wrong.pk}"]["status"] == "entered-in-error"
    # A reading without a CADSS total has no component.
    pre_dose = VitalsReading.objects.get(session=session, kind="pre_dose")
    assert "component" not in resources["Observation", f"dissociation-{pre_dose.pk}"]


def test_observation_search_returns_the_period_asked_for(client, fhir_token, discharged):
    url = reverse("fhir:observation-search")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {fhir_token}"}
    reading = VitalsReading.objects.get(session=discharged, kind="discharge")
    since = reading.taken_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.get(url, {"patient": discharged.patient.pk, "date": f"ge{since}"}, **auth)
    bundle = validated(response.json())
    # The discharge reading: the vital-signs panel, its four members, sedation and dissociation.
    assert bundle["type"] == "searchset" and bundle["total"] == 7
    assert {e["resource"]["id"] for e in bundle["entry"]} >= {f"vitals-{reading.pk}", f"bp-{reading.pk}"}

    day = DAY_START.date().isoformat()
    whole_day = validated(client.get(url, {"patient": f"Patient/{discharged.patient.pk}", "date": day}, **auth).json())
    assert whole_day["total"] == 21  # the PHQ-9 was answered the day before
    with_score = client.get(url, {"patient": discharged.patient.pk, "date": ["ge2026-11-16", "lt2026-11-18"]}, **auth)
    assert validated(with_score.json())["total"] == 22
    none_before = client.get(url, {"patient": discharged.patient.pk, "date": "lt2026-11-01"}, **auth)
    assert validated(none_before.json())["total"] == 0


@pytest.mark.parametrize(
    "query",
    [{}, {"patient": "abc"}, {"patient": "1", "date": "ge17/11/2026"}, {"patient": "1", "date": "ge0001-01-01"}],
)
def test_a_bad_search_is_a_400_operation_outcome(client, fhir_token, query):
    response = client.get(reverse("fhir:observation-search"), query, HTTP_AUTHORIZATION=f"Bearer {fhir_token}")
    assert response.status_code == 400
    assert validated(response.json())["resourceType"] == "OperationOutcome"


def test_access_by_token_or_staff_and_every_request_is_audited(
    client, client_for, fhir_token, administrator, nurse, discharged
):
    patient = discharged.patient
    assert everything(client, patient).status_code == 401
    assert everything(client, patient, HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401
    assert everything(client, patient, HTTP_AUTHORIZATION=f"Bearer {fhir_token}").status_code == 200
    assert everything(client_for(nurse), patient).status_code == 403
    assert everything(client_for(administrator), patient).status_code == 200
    rows = list(AuditEvent.objects.filter(object_type="fhir").order_by("id"))
    assert [r.action for r in rows] == ["denied", "denied", "export", "denied", "export"]
    assert rows[2].patient_id == patient.pk and rows[2].username.startswith("token:") and rows[2].actor == "system"
    assert rows[4].user == administrator


def test_a_revoked_token_stops_working(client, fhir_token, administrator, discharged):
    token = services_integrations.integration_token_use(secret=fhir_token, purpose="fhir")
    services_integrations.integration_token_revoke(token=token, user=administrator)
    assert everything(client, discharged.patient, HTTP_AUTHORIZATION=f"Bearer {fhir_token}").status_code == 401


def test_a_calendar_token_does_not_open_the_fhir_export(client, administrator, site, discharged):
    _, secret = services_integrations.integration_token_create(
        name="Front desk calendar", purpose="calendar", site=site, user=administrator
    )
    assert everything(client, discharged.patient, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_an_unknown_patient_is_a_404(client, fhir_token):
    response = client.get(reverse("fhir:patient-everything", args=[999999]), HTTP_AUTHORIZATION=f"Bearer {fhir_token}")
    assert response.status_code == 404


def test_the_export_reads_a_fixed_number_of_queries(
    client, fhir_token, discharged, make_session, run_to_discharge, django_assert_max_num_queries
):
    for days in (3, 7, 10):
        later = DAY_START + dt.timedelta(days=days)
        run_to_discharge(make_session(discharged.patient, start=later), dosed_at=later + dt.timedelta(minutes=10))
    with django_assert_max_num_queries(25):
        response = everything(client, discharged.patient, HTTP_AUTHORIZATION=f"Bearer {fhir_token}")
    assert len([e for e in response.json()["entry"] if e["resource"]["resourceType"] == "Encounter"]) == 4


def test_the_clinics_code_system_is_served_at_its_url_with_every_code_the_export_uses(
    client, client_for, nurse, fhir_token, discharged
):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {fhir_token}"}
    system = validated(client.get(reverse("fhir:code-system"), **auth).json())
    url = f"{settings.PUBLIC_BASE_URL}/fhir/CodeSystem/clinic"
    assert system["resourceType"] == "CodeSystem" and system["url"] == url
    assert reverse("fhir:code-system") == "/fhir/CodeSystem/clinic"
    defined = {c["code"] for c in system["concept"]}
    assert defined == {"moaas", "dissociation", "cadss-total", "madrs-total", "esketamine", "iv_ketamine"}
    exported = everything(client, discharged.patient, **auth).json()
    used = {
        coding["code"]
        for entry in exported["entry"]
        for resource in [entry["resource"], *entry["resource"].get("contained", [])]
        for coding in resource.get("code", {}).get("coding", [])
        if coding["system"] == url
    }
    assert used and used <= defined
    assert client.get(reverse("fhir:code-system")).status_code == 401
    assert client_for(nurse).get(reverse("fhir:code-system")).status_code == 403
    assert AuditEvent.objects.filter(object_type="fhir", summary__operation="CodeSystem").count() == 1
