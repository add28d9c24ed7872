import datetime as dt

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import rules
from .formats import INPUT_DATE_FORMAT
from .models import EscortContact, Patient
from .text import strip_invisible


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format=INPUT_DATE_FORMAT, **kwargs)


class VisibleTextMixin:
    """For any form: the invisible format characters (``clinic.text``) are taken out of every
    text value it is given, before any field or ``clean_<field>`` method reads it, and out of
    every text value it cleans, so what the next page shows is what a person sees typed (and a
    maximum length counts the characters a person sees)."""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(_visible(data), *args, **kwargs)

    def _clean_fields(self):
        super()._clean_fields()
        for name, value in list(self.cleaned_data.items()):
            if isinstance(value, str):
                self.cleaned_data[name] = strip_invisible(value)


def _visible(data):
    """A copy of submitted form data without invisible format characters in its values."""
    if data is None:
        return None
    if isinstance(data, QueryDict):
        visible = QueryDict(mutable=True)
        for key, values in data.lists():
            visible.setlist(key, [strip_invisible(v) if isinstance(v, str) else v for v in values])
        return visible
    return {key: strip_invisible(v) if isinstance(v, str) else v for key, v in data.items()}


class BoundedDateField(forms.DateField):
    """A date that means something to the clinic: from ``rules.EARLIEST_DATE`` to
    ``years_ahead`` years after today (the clinic's today, when the form is cleaned). A year
    such as 0001 or 9999 is refused beside the field instead of reaching a date sum."""

    def __init__(self, *, years_ahead: int = 2, **kwargs):
        self.years_ahead = years_ahead
        kwargs.setdefault("widget", DateInput())
        super().__init__(**kwargs)

    def latest(self) -> dt.date:
        today = timezone.localdate()
        try:
            return today.replace(year=today.year + self.years_ahead)
        except ValueError:  # 29 February
            return today.replace(year=today.year + self.years_ahead, day=28)

    def validate(self, value):
        super().validate(value)
        if value is not None:
            rules.validate_date_between(value, rules.EARLIEST_DATE, self.latest())


class PatientForm(VisibleTextMixin, forms.ModelForm):
    class Meta:
        model = Patient
        fields = [
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "site",
            "phone",
            "email",
            "preferred_channel",
            "reminder_opt_out",
            "rems_enrollment_id",
            "rems_enrollment_date",
            *rules.CONTRAINDICATION_FIELDS,
            *rules.CAUTION_FIELDS,
            "caution_prescriber_note",
        ]
        widgets = {
            "date_of_birth": DateInput(),
            "rems_enrollment_date": DateInput(),
            "caution_prescriber_note": forms.Textarea(attrs={"rows": 3}),
        }
        # The fields whose model gives no verbose name of its own (adding one would be a migration).
        labels = {
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "date_of_birth": _("Date of birth"),
            "sex": _("Sex"),
            "site": _("Site"),
            "phone": _("Phone"),
            "email": _("Email"),
            "uncontrolled_hypertension": _("Uncontrolled hypertension"),
            "substance_use_disorder": _("Substance use disorder"),
        }
        error_messages = {"mrn": {"unique": _("Another patient already has this MRN.")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mrn"].help_text = _("6 to 12 capital letters or digits.")
        self.fields["phone"].help_text = _("Mobile number for reminders, e.g. (212) 555-0134.")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Identity"),
                Row(Column("mrn"), Column("first_name"), Column("last_name")),
                Row(Column("date_of_birth"), Column("sex"), Column("site")),
            ),
            Fieldset(
                _("Contact and reminders"),
                Row(Column("phone"), Column("email")),
                Row(Column("preferred_channel"), Column("reminder_opt_out", css_class="pt-4")),
            ),
            Fieldset(_("REMS programme"), Row(Column("rems_enrollment_id"), Column("rems_enrollment_date"))),
            Fieldset(
                _("Eligibility screening"),
                HTML(
                    format_html(
                        '<p class="text-muted small mb-1">{}</p>', _("Contraindications (any one blocks treatment)")
                    )
                ),
                *rules.CONTRAINDICATION_FIELDS,
                HTML(
                    format_html('<p class="text-muted small mb-1 mt-3">{}</p>', _("Cautions and concomitant medicines"))
                ),
                Row(*[Column(f, css_class="col-md-4") for f in rules.CAUTION_FIELDS]),
                "caution_prescriber_note",
            ),
        )

    def clean_mrn(self):
        return self.cleaned_data["mrn"].strip().upper()

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        return rules.normalise_phone(phone, settings.PHONE_DEFAULT_REGION) if phone else ""

    def clean_date_of_birth(self):
        dob = self.cleaned_data["date_of_birth"]
        rules.validate_date_of_birth(dob, timezone.localdate(), settings.MINIMUM_PATIENT_AGE)
        return dob

    def clean_rems_enrollment_date(self):
        enrolled_on = self.cleaned_data["rems_enrollment_date"]
        if enrolled_on:
            dob = self.cleaned_data.get("date_of_birth")
            rules.validate_rems_enrollment_date(enrolled_on, timezone.localdate(), dob)
        return enrolled_on

    def clean(self):
        data = super().clean()
        channel = data.get("preferred_channel")
        if channel == "sms" and not data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", ValidationError(_("SMS reminders need a mobile number."), code="sms_needs_phone"))
        if channel == "email" and not data.get("email") and "email" not in self.errors:
            self.add_error(
                "email", ValidationError(_("E-mail reminders need an e-mail address."), code="email_needs_address")
            )
        if bool(data.get("rems_enrollment_id")) != bool(data.get("rems_enrollment_date")):
            field = "rems_enrollment_date" if data.get("rems_enrollment_id") else "rems_enrollment_id"
            self.add_error(
                field, ValidationError(_("Enter both the REMS enrolment id and its date."), code="rems_pair")
            )
        return data


class EscortContactForm(VisibleTextMixin, forms.ModelForm):
    class Meta:
        model = EscortContact
        fields = ["name", "phone", "relationship", "is_emergency_contact"]
        labels = {
            "name": _("Name"),
            "phone": _("Phone"),
            "relationship": _("Relationship"),
            "is_emergency_contact": _("Is emergency contact"),
        }

    def clean_phone(self):
        return rules.normalise_phone(self.cleaned_data["phone"].strip(), settings.PHONE_DEFAULT_REGION)


EscortFormSet = forms.inlineformset_factory(
    Patient, EscortContact, form=EscortContactForm, extra=1, can_delete=True, max_num=10, validate_max=True
)


class PatientSearchForm(VisibleTextMixin, forms.Form):
    q = forms.CharField(label=_("Name or MRN"), required=False, max_length=80)


class LockoutUnlockForm(VisibleTextMixin, forms.Form):
    username = forms.CharField(max_length=150)
