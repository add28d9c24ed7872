"""Pure rules for the core records: no database access here."""

import datetime as dt
import re
from dataclasses import dataclass, field

import phonenumbers
from django.core.exceptions import ValidationError

MRN_RE = re.compile(r"^[A-Z0-9]{6,12}$")

CONTRAINDICATION_FIELDS = (
    "aneurysmal_vascular_disease",
    "intracerebral_haemorrhage",
    "ketamine_hypersensitivity",
)
CAUTION_FIELDS = (
    "uncontrolled_hypertension",
    "psychosis_history",
    "substance_use_disorder",
    "pregnancy",
    "takes_benzodiazepines",
    "takes_sedative_hypnotics",
    "takes_opioids",
    "takes_psychostimulants",
    "takes_maois",
)
CONCOMITANT_MEDICINE_FIELDS = (
    "takes_benzodiazepines",
    "takes_sedative_hypnotics",
    "takes_psychostimulants",
    "takes_maois",
    "takes_opioids",
)
LABELS = {
    "aneurysmal_vascular_disease": "aneurysmal vascular disease or arteriovenous malformation",
    "intracerebral_haemorrhage": "history of intracerebral haemorrhage",
    "ketamine_hypersensitivity": "hypersensitivity to (es)ketamine",
    "uncontrolled_hypertension": "uncontrolled hypertension",
    "psychosis_history": "history of psychosis",
    "substance_use_disorder": "substance use disorder",
    "pregnancy": "pregnancy",
    "takes_benzodiazepines": "benzodiazepines",
    "takes_sedative_hypnotics": "non-benzodiazepine sedative hypnotics",
    "takes_opioids": "opioids",
    "takes_psychostimulants": "psychostimulants",
    "takes_maois": "MAOIs",
}


def validate_mrn(value: str) -> None:
    """MRN: 6 to 12 capital letters or digits."""
    if not MRN_RE.match(value or ""):
        raise ValidationError("An MRN is 6 to 12 capital letters or digits, e.g. MRN004512.", code="invalid_mrn")


def normalise_phone(value: str, region: str) -> str:
    """Return the number in E.164 form or raise ValidationError."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            "Enter a valid phone number, e.g. (212) 555-0134 or +44 20 7946 0018.", code="invalid_phone"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            "Enter a valid phone number, e.g. (212) 555-0134 or +44 20 7946 0018.", code="invalid_phone"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def age_on(date_of_birth: dt.date, today: dt.date) -> int:
    return today.year - date_of_birth.year - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))


def validate_date_of_birth(date_of_birth: dt.date, today: dt.date, minimum_age: int) -> None:
    if date_of_birth > today:
        raise ValidationError("Date of birth cannot be in the future.", code="dob_future")
    if age_on(date_of_birth, today) < minimum_age:
        raise ValidationError(
            "Patients must be at least %(age)s years old.", code="dob_minor", params={"age": minimum_age}
        )
    if age_on(date_of_birth, today) > 120:
        raise ValidationError("Check the date of birth: the patient would be over 120.", code="dob_implausible")


@dataclass(frozen=True)
class Screening:
    contraindications: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    cautions_acknowledged: bool = False

    @property
    def eligible(self) -> bool:
        return not self.contraindications and (not self.cautions or self.cautions_acknowledged)

    @property
    def reasons(self) -> list[str]:
        reasons = [f"Contraindication: {c}" for c in self.contraindications]
        if self.cautions and not self.cautions_acknowledged:
            reasons.append("Cautions need a prescriber note: " + ", ".join(self.cautions))
        return reasons


def screen(*, contraindications: dict[str, bool], cautions: dict[str, bool], prescriber_note: str) -> Screening:
    return Screening(
        contraindications=[LABELS[k] for k, v in contraindications.items() if v],
        cautions=[LABELS[k] for k, v in cautions.items() if v],
        cautions_acknowledged=bool(prescriber_note.strip()),
    )
