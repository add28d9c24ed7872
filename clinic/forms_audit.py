from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .forms import BoundedDateField, VisibleTextMixin
from .models import AuditAction


class AuditFilterForm(VisibleTextMixin, forms.Form):
    date_from = BoundedDateField(label=_("From"), required=False)
    date_to = BoundedDateField(label=_("To"), required=False)
    username = forms.CharField(label=_("User name"), required=False, max_length=150)
    patient = forms.CharField(label=_("Patient (MRN or name)"), required=False, max_length=100)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=[("", _("Any action")), *AuditAction.choices])
    object_type = forms.CharField(
        label=_("Record type"), required=False, max_length=40, help_text=_("e.g. patient, session, observation")
    )

    error_messages = {"dates_reversed": _("The start date is after the end date.")}

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError(self.error_messages["dates_reversed"], code="dates_reversed")
        for name in ("username", "patient", "object_type"):
            data[name] = (data.get(name) or "").strip()
        return data

    def filters(self) -> dict:
        """The selector's keyword arguments; no filter at all when the form is invalid."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value}

    def summary(self) -> dict:
        """The filters as the audit trail records them."""
        return {name: str(value) for name, value in self.filters().items()}
