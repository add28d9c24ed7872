"""Patients from a CSV file (an EHR's export): the template, reading the file and checking
every row with the same rules as the registration form (``PatientForm``), and the plan of
what an import would do (new patients, changes to patients already here by MRN, errors).

Reading only: ``clinic.services_import.patients_import`` writes the plan."""

import csv
import dataclasses
import io

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .forms import PatientForm
from .models import Patient, Site

COLUMNS = (
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "preferred_channel",
    "site",
    "rems_enrollment_id",
    "rems_enrollment_date",
)
REQUIRED_COLUMNS = ("mrn", "first_name", "last_name", "date_of_birth", "sex")
# The columns an import writes; everything else of a patient already here stays as it is.
FIELDS = tuple(c for c in COLUMNS)
EXAMPLE_ROW = {
    "mrn": "MRN004512",
    "first_name": "Alex",
    "last_name": "Example",
    "date_of_birth": "1980-05-17",
    "sex": "F",
    "phone": "(212) 555-0134",
    "email": "alex@example.com",
    "preferred_channel": "sms",
    "site": "Riverside",
    "rems_enrollment_id": "RMS000123",
    "rems_enrollment_date": "2026-01-10",
}
MAX_ROWS = 20_000
MAX_MEGABYTES = 10
MAX_BYTES = MAX_MEGABYTES * 1024 * 1024
CHUNK = 1000  # MRNs looked up per query


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(EXAMPLE_ROW)
    return out.getvalue()


class FileError(ValueError):
    """The file as a whole cannot be read (the message says why)."""


class _SiteByName:
    """The site column: a site's name (any case), looked up in the sites read once."""

    def __init__(self, sites):
        self.by_name = {s.name.casefold(): s for s in sites}


class PatientImportForm(PatientForm):
    """One row: the registration form's fields and checks for the imported columns only. The
    MRN's uniqueness is the plan's (one read of every MRN, not a query per row)."""

    # The site by its name (read once for the file), not by id from a query per row.
    site = forms.CharField(label=PatientForm.Meta.labels["site"], required=False, max_length=120)

    class Meta(PatientForm.Meta):
        fields = list(FIELDS)

    def __init__(self, *args, sites: _SiteByName, **kwargs):
        self._sites = sites
        # The registration form's own __init__ only lays the page out: a row needs no layout.
        super(PatientForm, self).__init__(*args, **kwargs)

    def clean_site(self):
        value = self.cleaned_data["site"]
        if not value:
            return None
        site = self._sites.by_name.get(value.strip().casefold())
        if site is None:
            raise ValidationError(_("No site is called “%(name)s”."), code="unknown_site", params={"name": value})
        return site

    def validate_unique(self):
        """Checked for the whole file at once by ``plan``."""

    def _get_validation_exclusions(self):
        # The site came from the sites read for the file: no query per row to see it exists.
        return {*super()._get_validation_exclusions(), "site"}

    def _post_clean(self):
        # The table's check constraints are the form's own checks here (birth date from 1900,
        # REMS enrolment after birth), so the model's query per constraint and row is skipped;
        # the database still holds them.
        self.instance.validate_constraints = _no_constraint_queries
        try:
            super()._post_clean()
        finally:
            del self.instance.validate_constraints


def _no_constraint_queries(exclude=None):
    return None


class _SharedFields(dict):
    """The row form's fields, used by every row instead of a deep copy per row (a third of
    the time of a row): nothing a row does changes a field."""

    def __deepcopy__(self, memo):
        return self


PatientImportForm.base_fields = _SharedFields(PatientImportForm.base_fields)


@dataclasses.dataclass
class Row:
    number: int  # the line of the file (the header is line 1)
    mrn: str
    values: dict
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    action: str = ""  # "new", "update", "unchanged" or "error"
    changes: list[str] = dataclasses.field(default_factory=list)
    before: dict = dataclasses.field(default_factory=dict)  # the changed columns' stored values
    instance: Patient | None = None

    @property
    def name(self) -> str:
        return f"{self.values.get('first_name', '')} {self.values.get('last_name', '')}".strip()


@dataclasses.dataclass
class Plan:
    rows: list[Row]

    def _count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def new(self) -> int:
        return self._count("new")

    @property
    def updated(self) -> int:
        return self._count("update")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.action == "error"]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors


def read_rows(data: bytes) -> list[tuple[int, dict]]:
    """(line number, {column: text}) of each non-empty row; FileError for a file that is not a
    CSV with the template's header."""
    if len(data) > MAX_BYTES:
        raise FileError(_("The file is larger than %(mb)s MB: split it into several files.") % {"mb": MAX_MEGABYTES})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(_("The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”.")) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FileError(
            _("The first line must name the columns of the template; missing: %(columns)s.")
            % {"columns": ", ".join(missing)}
        )
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise FileError(
            _("Unknown columns: %(columns)s. Use the template's column names.") % {"columns": ", ".join(unknown)}
        )
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if len(rows) >= MAX_ROWS:
                raise FileError(
                    _("The file has more than %(count)s patients: split it into several files.")
                    % {"count": f"{MAX_ROWS:,}"}
                )
            values = {k: (v or "").strip() for k, v in record.items() if k in COLUMNS and isinstance(v, str)}
            if any(values.values()):
                rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise FileError(
            _("Line %(line)s cannot be read as CSV: %(error)s.") % {"line": reader.line_num, "error": exc}
        ) from None
    if not rows:
        raise FileError(_("The file has no patient rows under its header."))
    return rows


def _form_data(values: dict, instance: Patient | None) -> dict:
    data = {c: values.get(c, "") for c in COLUMNS}
    data["mrn"] = data["mrn"].upper()
    data["sex"] = data["sex"].upper()[:1] if data["sex"] else ""
    channel = data["preferred_channel"].lower()
    if not channel:
        # A patient already here keeps their channel; a new one gets the one their details allow.
        channel = (
            instance.preferred_channel
            if instance
            else ("sms" if data["phone"] else "email" if data["email"] else "none")
        )
    data["preferred_channel"] = channel
    if instance is not None:
        # Empty optional cells leave what the clinic already holds.
        for column in ("phone", "email", "site", "rems_enrollment_id", "rems_enrollment_date"):
            if not data[column]:
                current = getattr(instance, column)
                data[column] = current.name if column == "site" and current else (current or "")
    return data


def _values(patient: Patient) -> dict:
    """The imported columns' values as stored (the site as its id)."""
    return {f: Patient._meta.get_field(f).value_from_object(patient) for f in FIELDS}


def _existing(mrns: list[str]) -> dict[str, Patient]:
    found = {}
    for start in range(0, len(mrns), CHUNK):
        chunk = mrns[start : start + CHUNK]
        found.update((p.mrn, p) for p in Patient.objects.select_related("site").filter(mrn__in=chunk))
    return found


def plan(data: bytes) -> Plan:
    """What importing the file would do, row by row (nothing is written)."""
    raw_rows = read_rows(data)
    sites = _SiteByName(Site.objects.all())
    mrns = sorted({values.get("mrn", "").upper() for _, values in raw_rows if values.get("mrn")})
    existing = _existing(mrns)
    seen: dict[str, int] = {}
    rows = []
    for number, values in raw_rows:
        mrn = values.get("mrn", "").upper()
        row = Row(number=number, mrn=mrn, values=values)
        rows.append(row)
        if mrn and mrn in seen:
            row.errors["mrn"] = [_("This MRN is also on line %(line)s: each patient once.") % {"line": seen[mrn]}]
            row.action = "error"
            continue
        if mrn:
            seen[mrn] = number
        instance = existing.get(mrn)
        before = _values(instance) if instance else {}
        form = PatientImportForm(_form_data(values, instance), instance=instance, sites=sites)
        if not form.is_valid():
            row.errors = {field: list(messages) for field, messages in form.errors.items()}
            row.action = "error"
            continue
        row.instance = form.instance
        if instance is None:
            row.action = "new"
        else:
            after = _values(form.instance)
            row.changes = [f for f in FIELDS if after[f] != before[f]]
            row.before = {f: before[f] for f in row.changes}
            row.action = "update" if row.changes else "unchanged"
    return Plan(rows=rows)
