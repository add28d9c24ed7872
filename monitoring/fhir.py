"""FHIR R4 resources built from what the app stores, as plain JSON-ready dicts. No database:
the reads are ``monitoring.selectors_fhir``; what a session's day was (its check-in, dose,
devices, observation and discharge) comes from ``monitoring.day.SessionDay``.

Codes: LOINC for the vital signs and the outcome scores' totals, UCUM for the units, the
vital-signs category and profiles of FHIR R4 (DOMAIN.md "Codes for interoperability").
LOINC has no code for what else a reading records (MOAA/S sedation, dissociation and its CADSS
total), the MADRS total or the drugs: those are coded in the clinic's own code system,
``<PUBLIC_BASE_URL>/fhir/CodeSystem/clinic`` (``code_system`` below; see ``LOCAL_CODES``).
A corrected reading is ``entered-in-error``; the reading that corrects it is ``amended``."""

import datetime as dt
from decimal import Decimal

from clinic.formats import when
from scheduling.models import Drug, SessionStatus

from . import instruments

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VITAL_SIGNS_CATEGORY = ("vital-signs", "Vital Signs")
SURVEY_CATEGORY = ("survey", "Survey")  # assessment scales: sedation, dissociation, outcome scores
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"
# The codes of the clinic's own code system (its URL is the caller's ``code_system``), for what
# LOINC has no code for. The instruments' totals without a LOINC code are "<instrument>-total"
# (MADRS: "madrs-total"), the drugs their names in the app ("esketamine", "iv_ketamine").
LOCAL_CODES = {
    "moaas": "Modified Observer's Assessment of Alertness/Sedation (MOAA/S) score",
    "dissociation": "Dissociation present during observation",
    "cadss-total": "Clinician-Administered Dissociative States Scale (CADSS) total score",
}
CODE_SYSTEM_PATH = "/fhir/CodeSystem/clinic"

# (resource id prefix, LOINC code, display, profile, reading attribute, UCUM unit)
VITAL_SIGNS = (
    ("hr", "8867-4", "Heart rate", "heartrate", "heart_rate", "/min"),
    ("rr", "9279-1", "Respiratory rate", "resprate", "respiratory_rate", "/min"),
    ("spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "oxygensat", "spo2", "%"),
)
SPO2_ALSO = ("2708-6", "Oxygen saturation in Arterial blood")
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
VITALS_PANEL = ("85353-1", "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel")

ENCOUNTER_STATUS = {
    SessionStatus.BOOKED: "planned",
    SessionStatus.CHECKED_IN: "arrived",
    SessionStatus.IN_OBSERVATION: "in-progress",
    SessionStatus.DISCHARGED: "finished",
    SessionStatus.CANCELLED: "cancelled",
    SessionStatus.NO_SHOW: "cancelled",
}
SEX = {"F": "female", "M": "male", "X": "unknown"}
DRUG_TEXT = {Drug.ESKETAMINE: "Esketamine nasal spray", Drug.IV_KETAMINE: "Ketamine hydrochloride injection"}
ROUTE = {
    Drug.ESKETAMINE: ("46713006", "Nasal route"),
    Drug.IV_KETAMINE: ("47625008", "Intravenous route"),
}


def instant(value: dt.datetime) -> str:
    """An aware datetime in FHIR's form, in UTC with seconds."""
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def ref(resource_type: str, resource_id) -> dict:
    return {"reference": f"{resource_type}/{resource_id}"}


def patient_resource(patient, *, mrn_system: str) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number")]
                },
                "system": mrn_system,
                "value": patient.mrn,
            }
        ],
        "name": [{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        "gender": SEX.get(patient.sex, "unknown"),
        "birthDate": patient.date_of_birth.isoformat(),
    }
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "mobile"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    return resource


def encounter_resource(day) -> dict:
    """One session as an ambulatory Encounter: planned times until the patient arrives, then
    arrival to discharge (or to now, while in observation)."""
    session = day.session
    start, end = session.start, session.planned_end
    if day.checkin:
        start = day.checkin.arrived_at
        end = day.discharge.discharged_at if day.discharge else None
    period = {"start": instant(start)}
    if end:
        period["end"] = instant(end)
    resource = {
        "resourceType": "Encounter",
        "id": str(session.pk),
        "status": ENCOUNTER_STATUS.get(session.status, "unknown"),
        "class": coding(ACT_CODE, "AMB", "ambulatory"),
        "type": [{"text": "Esketamine/ketamine treatment session with observation"}],
        "subject": ref("Patient", session.patient_id),
        "period": period,
        "location": [{"location": {"display": f"{session.chair.site.name}, {session.chair.name}"}}],
        "serviceProvider": {"display": session.chair.site.name},
    }
    if session.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW):
        reason = "No-show" if session.status == SessionStatus.NO_SHOW else (session.cancel_reason or "Cancelled")
        resource["reasonCode"] = [{"text": reason}]
    return resource


def _reading_status(reading) -> str:
    if reading.is_superseded:
        return "entered-in-error"
    return "amended" if reading.supersedes_id else "final"


def _reading_base(reading, *, resource_id: str, code: list[dict], text: str, category: tuple, profile=None) -> dict:
    resource = {"resourceType": "Observation", "id": resource_id}
    if profile:
        resource["meta"] = {"profile": [PROFILE + profile]}
    resource |= {
        "status": _reading_status(reading),
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, *category)], "text": category[1]}],
        "code": {"coding": code, "text": text},
        "subject": ref("Patient", reading.session.patient_id),
        "encounter": ref("Encounter", reading.session_id),
        "effectiveDateTime": instant(reading.taken_at),
        "issued": instant(reading.recorded_at),
    }
    notes = [n for n in (reading.correction_reason and f"Correction: {reading.correction_reason}", reading.notes) if n]
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    return resource


def _vital_base(reading, *, resource_id: str, code: list[dict], profile: str, text: str) -> dict:
    return _reading_base(
        reading, resource_id=resource_id, code=code, text=text, category=VITAL_SIGNS_CATEGORY, profile=profile
    )


def reading_resources(reading, *, code_system: str) -> list[dict]:
    """One vitals reading: the vital-signs panel with its members (blood pressure with its
    systolic and diastolic components, heart rate, respiratory rate, SpO2), then the sedation
    and dissociation assessments of the same reading (``assessment_resources``). ``reading``
    needs ``is_superseded`` (annotated by the selector) and its session."""
    pk = reading.pk
    bp = _vital_base(
        reading, resource_id=f"bp-{pk}", code=[coding(LOINC, *BP_PANEL)], profile="bp", text="Blood pressure"
    )
    bp["component"] = [
        {"code": {"coding": [coding(LOINC, *SYSTOLIC)]}, "valueQuantity": quantity(reading.systolic, "mm[Hg]")},
        {"code": {"coding": [coding(LOINC, *DIASTOLIC)]}, "valueQuantity": quantity(reading.diastolic, "mm[Hg]")},
    ]
    members = [bp]
    for prefix, code, display, profile, attribute, unit in VITAL_SIGNS:
        codes = [coding(LOINC, code, display)]
        if prefix == "spo2":
            codes.append(coding(LOINC, *SPO2_ALSO))
        member = _vital_base(reading, resource_id=f"{prefix}-{pk}", code=codes, profile=profile, text=display)
        member["valueQuantity"] = quantity(getattr(reading, attribute), unit)
        members.append(member)
    panel = _vital_base(
        reading,
        resource_id=f"vitals-{pk}",
        code=[coding(LOINC, *VITALS_PANEL)],
        profile="vitalsigns",
        text=reading.label,
    )
    panel["meta"]["profile"] = [PROFILE + "vitalspanel"]
    panel["hasMember"] = [ref("Observation", m["id"]) for m in members]
    if reading.supersedes_id:
        panel["derivedFrom"] = [ref("Observation", f"vitals-{reading.supersedes_id}")]
    return [panel, *members, *assessment_resources(reading, code_system=code_system)]


def assessment_resources(reading, *, code_system: str) -> list[dict]:
    """The sedation and dissociation of a reading, as survey Observations in the clinic's code
    system (no LOINC code exists for either scale): the MOAA/S score (0-5, 5 = alert) as an
    integer, and whether dissociation was present, with the CADSS total as a component when the
    nurse recorded one. A correction marks them as it marks the vital signs."""
    pk = reading.pk
    moaas = _reading_base(
        reading,
        resource_id=f"moaas-{pk}",
        code=[coding(code_system, "moaas", LOCAL_CODES["moaas"])],
        text="Sedation (MOAA/S)",
        category=SURVEY_CATEGORY,
    )
    moaas["valueInteger"] = reading.moaas
    dissociation = _reading_base(
        reading,
        resource_id=f"dissociation-{pk}",
        code=[coding(code_system, "dissociation", LOCAL_CODES["dissociation"])],
        text="Dissociation",
        category=SURVEY_CATEGORY,
    )
    dissociation["valueBoolean"] = reading.dissociation
    if reading.cadss is not None:
        dissociation["component"] = [
            {
                "code": {"coding": [coding(code_system, "cadss-total", LOCAL_CODES["cadss-total"])], "text": "CADSS"},
                "valueInteger": reading.cadss,
            }
        ]
    if reading.supersedes_id:
        for resource, prefix in ((moaas, "moaas"), (dissociation, "dissociation")):
            resource["derivedFrom"] = [ref("Observation", f"{prefix}-{reading.supersedes_id}")]
    return [moaas, dissociation]


def score_resource(score, *, code_system: str) -> dict:
    """An outcome score's total (PHQ-9 44261-6, GAD-7 70274-6; MADRS has a local code)."""
    instrument = instruments.get(score.instrument)
    code = (
        [coding(LOINC, instrument.loinc_total, f"{instrument.name} total score")]
        if instrument.loinc_total
        else [coding(code_system, f"{instrument.code}-total", f"{instrument.name} total score")]
    )
    resource = {
        "resourceType": "Observation",
        "id": f"score-{score.pk}",
        "status": "amended" if score.version > 1 else "final",
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": {"coding": code, "text": f"{instrument.name} total"},
        "subject": ref("Patient", score.patient_id),
        "encounter": ref("Encounter", score.session_id),
        "effectiveDateTime": instant(score.recorded_at),
        "issued": instant(score.updated_at),
        "valueQuantity": {"value": score.total, "unit": "{score}", "system": UCUM, "code": "{score}"},
    }
    if instrument.loinc_panel:
        resource["code"]["coding"].append(coding(LOINC, instrument.loinc_panel, f"{instrument.name} panel"))
    return resource


def medication_administration_resource(day, *, code_system: str) -> dict | None:
    """The dose of a session: the drug with its lot, the dose in mg, the route, from the first
    device (or infusion start) to the last (or infusion end); the devices in the dosage text."""
    dose = day.dose
    if dose is None:
        return None
    session = day.session
    devices = sorted(day.devices, key=lambda d: d.number)
    tz = day.tz
    if dose.is_esketamine:
        times = [d.administered_at for d in devices]
        given = ", ".join(f"device {d.number} at {when(d.administered_at, 'time', tz)}" for d in devices)
        text = f"{len(devices)} of {dose.devices_planned or len(devices)} nasal devices ({given or 'none given'})"
    else:
        times = [t for t in (dose.infusion_start, dose.infusion_end) if t]
        text = f"{dose.mg_per_kg} mg/kg for {dose.weight_kg} kg, intravenous infusion" if dose.mg_per_kg else ""
    medication = {"resourceType": "Medication", "id": "med", "code": {"text": DRUG_TEXT.get(dose.drug, dose.drug)}}
    medication["code"]["coding"] = [coding(code_system, dose.drug, DRUG_TEXT.get(dose.drug, dose.drug))]
    if dose.lot_number:
        medication["batch"] = {"lotNumber": dose.lot_number}
    route = ROUTE.get(dose.drug)
    dosage = {"dose": quantity(float(Decimal(dose.dose_mg).normalize()), "mg")}
    if text:
        dosage["text"] = text
    if route:
        dosage["route"] = {"coding": [coding(SNOMED, *route)]}
    resource = {
        "resourceType": "MedicationAdministration",
        "id": f"dose-{dose.pk}",
        "contained": [medication],
        "status": "stopped" if dose.stopped_cause else ("completed" if times else "in-progress"),
        "medicationReference": {"reference": "#med"},
        "subject": ref("Patient", session.patient_id),
        "context": ref("Encounter", session.pk),
        "dosage": dosage,
    }
    if times:
        resource["effectivePeriod"] = {"start": instant(min(times))}
        if len(times) > 1 or not dose.is_esketamine:
            resource["effectivePeriod"]["end"] = instant(max(times))
    else:
        resource["effectiveDateTime"] = instant(dose.created_at)
    if dose.stopped_cause:
        resource["statusReason"] = [{"text": f"Dosing stopped early because of {dose.get_stopped_cause_display()}"}]
    return resource


def bundle(*, bundle_type: str, resources: list[dict], base_url: str, now: dt.datetime, self_url: str) -> dict:
    entries = []
    for resource in resources:
        entry = {"fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}", "resource": resource}
        if bundle_type == "searchset":
            entry["search"] = {"mode": "match"}
        entries.append(entry)
    result = {
        "resourceType": "Bundle",
        "type": bundle_type,
        "timestamp": instant(now),
        "link": [{"relation": "self", "url": self_url}],
    }
    if entries:  # FHIR JSON never has an empty array: a search that found nothing has no "entry"
        result["entry"] = entries
    if bundle_type == "searchset":
        result["total"] = len(entries)
    return result


def code_system_resource(*, url: str) -> dict:
    """The clinic's own code system (every code the export sends in it), served at its URL so
    the receiving system can read what each code means."""
    concepts = [{"code": code, "display": display} for code, display in LOCAL_CODES.items()]
    concepts += [
        {"code": f"{i.code}-total", "display": f"{i.name} total score"}
        for i in instruments.INSTRUMENTS.values()
        if not i.loinc_total
    ]
    concepts += [{"code": drug, "display": DRUG_TEXT.get(drug, drug)} for drug in Drug.values]
    return {
        "resourceType": "CodeSystem",
        "id": "clinic",
        "url": url,
        "name": "ClinicCodes",
        "title": "Codes of the esketamine/ketamine clinic app for what LOINC has no code for",
        "status": "active",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def operation_outcome(message: str, *, code: str = "invalid") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


def everything(*, patient, days, readings, scores, mrn_system: str, code_system: str) -> list[dict]:
    """Patient, then per session its Encounter and MedicationAdministration, then the
    Observations of each reading (vital signs, sedation, dissociation; corrections included)
    and the outcome scores."""
    resources = [patient_resource(patient, mrn_system=mrn_system)]
    for day in days:
        resources.append(encounter_resource(day))
        administration = medication_administration_resource(day, code_system=code_system)
        if administration:
            resources.append(administration)
    for reading in readings:
        resources.extend(reading_resources(reading, code_system=code_system))
    resources.extend(score_resource(s, code_system=code_system) for s in scores)
    return resources


# --- Search parameters ------------------------------------------------------------------

_PREFIXES = ("ge", "gt", "le", "lt", "eq")


class SearchError(ValueError):
    """A search parameter the export cannot read (the message says which and why)."""


def _parse_moment(text: str, tz: dt.tzinfo) -> tuple[dt.datetime, dt.timedelta]:
    """The moment ``text`` starts and how long it lasts: a day (YYYY-MM-DD, in ``tz``) or a
    date-time with its offset (to the second)."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(), tzinfo=tz), dt.timedelta(days=1)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"date={text!r} is not a date (YYYY-MM-DD) or a date-time with its offset.") from None
    if moment.tzinfo is None:
        raise SearchError(f"date={text!r} needs a time zone offset, e.g. 2026-11-17T09:00:00-05:00.")
    return moment, dt.timedelta(seconds=1)


def date_range(values: list[str], tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The period [since, until) that FHIR ``date`` parameters ask for (prefixes ge, gt, le,
    lt, eq; none means eq). Several parameters narrow it."""
    since = until = None
    for raw in values:
        raw = raw.strip()
        prefix, text = (raw[:2], raw[2:]) if raw[:2] in _PREFIXES else ("eq", raw)
        start, length = _parse_moment(text, tz)
        if not 1900 <= start.year <= 9000:
            raise SearchError(f"date={raw!r}: choose a year between 1900 and 9000.")
        lower = {"ge": start, "gt": start + length, "eq": start}.get(prefix)
        upper = {"le": start + length, "lt": start, "eq": start + length}.get(prefix)
        if lower is not None:
            since = lower if since is None else max(since, lower)
        if upper is not None:
            until = upper if until is None else min(until, upper)
    return since, until


def patient_id(value: str) -> int:
    """The patient id of a ``patient`` search parameter ("12" or "Patient/12")."""
    text = value.strip().removeprefix("Patient/")
    if not text.isdigit() or len(text) > 18:
        raise SearchError("patient= must be a patient id, e.g. patient=12 or patient=Patient/12.")
    return int(text)
