"""Input parsing for outcome scores, the safety acknowledgement, the antidepressant history,
the eligibility override and the outcomes report's filter."""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.forms import VisibleTextMixin
from scheduling.models import Protocol

from . import instruments
from .models_outcomes import NOTE_MAX, AntidepressantTrial


class InstrumentForm(forms.Form):
    """One instrument's items (radio buttons), prefixed with its code; the PHQ-9 also asks its
    difficulty question (optional)."""

    error_messages = {"answer": _("Choose an answer.")}

    def __init__(self, *args, instrument: instruments.Instrument, initial_score=None, **kwargs):
        kwargs.setdefault("prefix", instrument.code)
        if initial_score is not None and "initial" not in kwargs:
            kwargs["initial"] = {f"item_{n}": v for n, v in enumerate(initial_score.answers, start=1)}
            kwargs["initial"]["functional"] = initial_score.functional
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        choices = [(o.value, o.label) for o in instrument.options]
        for item in instrument.items:
            label = f"{item.number}. {item.text}"
            self.fields[f"item_{item.number}"] = forms.TypedChoiceField(
                label=label,
                choices=choices,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={
                    "required": self.error_messages["answer"],
                    "invalid_choice": self.error_messages["answer"],
                },
            )
        if instrument.functional_options:
            self.fields["functional"] = forms.TypedChoiceField(
                label=instrument.functional_question,
                choices=[(o.value, o.label) for o in instrument.functional_options],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
            )

    def item_fields(self):
        return [self[f"item_{item.number}"] for item in self.instrument.items]

    def answers(self) -> list[int]:
        return [self.cleaned_data[f"item_{item.number}"] for item in self.instrument.items]

    def functional_answer(self) -> int | None:
        return self.cleaned_data.get("functional")


class SafetyAckForm(VisibleTextMixin, forms.Form):
    note = forms.CharField(
        label=_("Note (what was done: risk assessment, plan)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=NOTE_MAX,
    )


class TrialForm(VisibleTextMixin, forms.ModelForm):
    class Meta:
        model = AntidepressantTrial
        fields = ["drug", "dose", "adequate_dose", "weeks", "outcome"]
        labels = {
            "drug": _("Drug"),
            "dose": _("Dose"),
            "adequate_dose": _("Adequate dose"),
            "weeks": _("Weeks taken"),
            "outcome": _("Outcome"),
        }


class EligibilityOverrideForm(VisibleTextMixin, forms.Form):
    protocol = forms.ModelChoiceField(queryset=Protocol.objects.none(), label=_("Protocol"))
    reason = forms.CharField(
        label=_("Reason for the override"), widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX
    )

    def __init__(self, *args, protocols=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].queryset = Protocol.objects.filter(pk__in=[p.pk for p in protocols])


class OutcomesFilterForm(forms.Form):
    protocol = forms.ModelChoiceField(
        queryset=Protocol.objects.order_by("name"), required=False, empty_label=_("All"), label=_("Protocol")
    )
    start = forms.DateField(label=_("Courses started from"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("to"), widget=forms.DateInput(attrs={"type": "date"}))

    error_messages = {
        "order": _("The end date must be on or after the start date."),
        "range": _("Choose dates from 1900 to three years ahead."),
    }

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name in ("start", "end"):
            value = data.get(name)
            if value and not (dt.date(1900, 1, 1) <= value <= timezone.localdate() + dt.timedelta(days=3 * 366)):
                self.add_error(name, ValidationError(self.error_messages["range"], code="range"))
        if start and end and end < start:
            self.add_error("end", ValidationError(self.error_messages["order"], code="order"))
        return data
