from django import forms
from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString, mark_safe

from .models import AuditAction
from .selectors import escaped, printed


class AuditFilterForm(forms.Form):
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    username = forms.CharField(label="User name", required=False, max_length=150)
    patient = forms.CharField(label="Patient (MRN or name)", required=False, max_length=100)
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "Any action"), *AuditAction.choices])
    object_type = forms.CharField(
        label="Record type", required=False, max_length=40, help_text="e.g. patient, session, observation"
    )

    error_messages = {"dates_reversed": "The start date is after the end date."}

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

    def fields_html(self) -> SafeString:
        """The filter fields as the audit page shows them: a Bootstrap column each, a label, a
        select or an input holding what was asked for, and the field's errors under it. Built
        here rather than by the template: the audit page prints it on every request."""
        columns = []
        for field in self:
            value, name, id_ = field.value(), escaped(field.html_name), escaped(field.id_for_label)
            label = f'<label class="form-label" for="{id_}">{escaped(field.label)}</label>'
            if field.field.widget.input_type == "select":
                options = "".join(
                    f'<option value="{printed(v)}"{" selected" if value == v else ""}>{printed(text)}</option>'
                    for v, text in field.field.choices
                )
                control = f'<select name="{name}" id="{id_}" class="form-select">{options}</select>'
            else:
                invalid = " is-invalid" if field.errors else ""
                hint = f' placeholder="{escaped(field.help_text)}"' if field.help_text else ""
                control = (
                    f'<input type="{escaped(field.field.widget.input_type)}" name="{name}" id="{id_}" '
                    f'value="{"" if value is None else printed(value)}" class="form-control{invalid}"{hint}>'
                )
            errors = "".join(f'<div class="invalid-feedback">{escaped(error)}</div>' for error in field.errors)
            columns.append(f'<div class="col-sm-6 col-md-4 col-xl-2">{label}{control}{errors}</div>')
        return mark_safe("".join(columns))  # noqa: S308 - every value escaped above
