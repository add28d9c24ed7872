"""Pure rules for the core records: no database access here."""

import datetime as dt
import re
from dataclasses import dataclass, field

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

MRN_RE = re.compile(r"^[A-Z0-9]{6,12}$")

# The earliest date any record of the clinic can carry (a birth, an enrolment, a report's
# first day): older dates are typing mistakes such as 0001-01-01.
EARLIEST_DATE = dt.date(1900, 1, 1)
# The longest free-text note a patient record keeps (characters).
NOTE_MAX_LENGTH = 2000
# How far back a page number of a list may go: past it, the list shows its last page.
MAX_PAGE_NUMBER = 100_000

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
    "aneurysmal_vascular_disease": gettext_lazy("aneurysmal vascular disease or arteriovenous malformation"),
    "intracerebral_haemorrhage": gettext_lazy("history of intracerebral haemorrhage"),
    "ketamine_hypersensitivity": gettext_lazy("hypersensitivity to (es)ketamine"),
    "uncontrolled_hypertension": gettext_lazy("uncontrolled hypertension"),
    "psychosis_history": gettext_lazy("history of psychosis"),
    "substance_use_disorder": gettext_lazy("substance use disorder"),
    "pregnancy": gettext_lazy("pregnancy"),
    "takes_benzodiazepines": gettext_lazy("benzodiazepines"),
    "takes_sedative_hypnotics": gettext_lazy("non-benzodiazepine sedative hypnotics"),
    "takes_opioids": gettext_lazy("opioids"),
    "takes_psychostimulants": gettext_lazy("psychostimulants"),
    "takes_maois": gettext_lazy("MAOIs"),
}


def validate_mrn(value: str) -> None:
    """MRN: 6 to 12 capital letters or digits."""
    if not MRN_RE.match(value or ""):
        raise ValidationError(
            gettext("An MRN is 6 to 12 capital letters or digits, e.g. MRN004512."), code="invalid_mrn"
        )


def normalise_phone(value: str, region: str) -> str:
    """Return the number in E.164 form or raise ValidationError."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            gettext("Enter a valid phone number, e.g. (212) 555-0134 or +44 20 7946 0018."), code="invalid_phone"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            gettext("Enter a valid phone number, e.g. (212) 555-0134 or +44 20 7946 0018."), code="invalid_phone"
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
    if date_of_birth < EARLIEST_DATE:
        raise ValidationError(
            gettext("Check the date of birth: the patient would be over 120."), code="dob_implausible"
        )
    if date_of_birth > today:
        raise ValidationError(gettext("Date of birth cannot be in the future."), code="dob_future")
    if age_on(date_of_birth, today) < minimum_age:
        raise ValidationError(
            gettext("Patients must be at least %(age)s years old."), code="dob_minor", params={"age": minimum_age}
        )
    if age_on(date_of_birth, today) > 120:
        raise ValidationError(
            gettext("Check the date of birth: the patient would be over 120."), code="dob_implausible"
        )


def validate_rems_enrollment_date(enrolled_on: dt.date, today: dt.date, date_of_birth: dt.date | None) -> None:
    """A REMS enrolment happened: not in the future, not before the patient was born."""
    if enrolled_on > today:
        raise ValidationError(gettext("The REMS enrolment date cannot be in the future."), code="rems_date_future")
    if enrolled_on < EARLIEST_DATE or (date_of_birth and enrolled_on < date_of_birth):
        raise ValidationError(
            gettext("Check the REMS enrolment date: it is before the patient was born."), code="rems_date_implausible"
        )


def validate_date_between(value: dt.date, earliest: dt.date, latest: dt.date) -> None:
    """A date typed into a filter or a report: inside [earliest, latest], both inclusive."""
    if not earliest <= value <= latest:
        raise ValidationError(
            gettext("Enter a date between %(earliest)s and %(latest)s."),
            code="date_out_of_range",
            params={"earliest": earliest.isoformat(), "latest": latest.isoformat()},
        )


def page_number(value, last: int = MAX_PAGE_NUMBER) -> int:
    """The page a list's ``?page=`` asks for, as a number from 1 to ``last``: 1 for anything
    that is not a whole number, ``last`` for a number past it."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), last)


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
        reasons = [gettext("Contraindication: %(name)s") % {"name": c} for c in self.contraindications]
        if self.cautions and not self.cautions_acknowledged:
            names = ", ".join(self.cautions)
            reasons.append(gettext("Cautions need a prescriber note: %(names)s") % {"names": names})
        return reasons


def screen(*, contraindications: dict[str, bool], cautions: dict[str, bool], prescriber_note: str) -> Screening:
    return Screening(
        contraindications=[str(LABELS[k]) for k, v in contraindications.items() if v],
        cautions=[str(LABELS[k]) for k, v in cautions.items() if v],
        cautions_acknowledged=bool(prescriber_note.strip()),
    )
