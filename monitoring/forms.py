"""Input parsing for the session day. The clinical rules themselves run in services."""

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinic.formats import INPUT_TIME_FORMAT, when
from clinic.forms import VisibleTextMixin
from scheduling.models import TransportArrangement

from . import rules
from .models import NOTE_MAX, AdverseEvent, CheckIn, ReadingKind, StopCause


class LocalTimeField(forms.TimeField):
    """A wall-clock time (HH:MM) on the session's day in the site's time zone."""

    widget = forms.TimeInput(attrs={"type": "time"}, format=INPUT_TIME_FORMAT)


def local_datetime(value: dt.time | None, *, session) -> dt.datetime | None:
    """The latest moment up to now showing ``value`` on the site's clock (a time typed just after
    midnight for 23:55 is yesterday evening); None when empty: the service records now. Whether
    the time may be recorded is the services' decision (``rules.entered_time_error``)."""
    if value is None:
        return None
    return rules.wall_time_before(value, now=timezone.now(), tz=session.chair.site.tzinfo)


class CheckInForm(VisibleTextMixin, forms.Form):
    arrived_at = LocalTimeField(label=_("Arrival time"), required=False, help_text=_("Leave empty for now."))
    no_food_2h = forms.BooleanField(label=_("No food for the last 2 hours"), required=False)
    no_liquids_30min = forms.BooleanField(label=_("No liquids for the last 30 minutes"), required=False)
    nasal_medicines_1h = forms.BooleanField(
        label=_("No nasal steroid or decongestant in the last hour"), required=False
    )
    rems_enrolment_checked = forms.BooleanField(label=_("REMS enrolment on file"), required=False)
    concomitant_medicines_reviewed = forms.BooleanField(label=_("Concomitant medicines reviewed"), required=False)
    transport_confirmed = forms.BooleanField(label=_("Ride home confirmed"), required=False)
    transport_kind = forms.ChoiceField(label=_("Ride home"), choices=TransportArrangement.Kind.choices, required=False)
    transport_name = forms.CharField(label=_("Driver or ride service"), max_length=120, required=False)
    transport_phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    transport_relationship = forms.CharField(label=_("Relationship"), max_length=60, required=False)
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX, required=False
    )

    def checklist(self) -> dict[str, bool]:
        return {name: self.cleaned_data.get(name, False) for name in CheckIn.CHECKLIST}

    def transport(self) -> dict | None:
        if not self.cleaned_data.get("transport_name"):
            return None
        return {
            "kind": self.cleaned_data["transport_kind"],
            "name": self.cleaned_data["transport_name"],
            "phone": self.cleaned_data["transport_phone"],
            "relationship": self.cleaned_data["transport_relationship"],
        }


class VitalsForm(VisibleTextMixin, forms.Form):
    checkpoint = forms.ChoiceField(label=_("Reading for"))
    taken_at = LocalTimeField(label=_("Time taken"), required=False, help_text=_("Leave empty for now."))
    systolic = forms.IntegerField(label=_("Systolic (mmHg)"), min_value=0)
    diastolic = forms.IntegerField(label=_("Diastolic (mmHg)"), min_value=0)
    heart_rate = forms.IntegerField(label=_("Heart rate (/min)"), min_value=0)
    spo2 = forms.IntegerField(label=_("SpO2 (%)"), min_value=0)
    respiratory_rate = forms.IntegerField(label=_("Resp. rate (/min)"), min_value=0)
    moaas = forms.IntegerField(label=_("MOAA/S (0-5, 5 = alert)"), min_value=0)
    dissociation = forms.BooleanField(label=_("Dissociation present"), required=False)
    cadss = forms.IntegerField(label=_("CADSS total"), min_value=0, required=False)
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX, required=False
    )

    def __init__(self, *args, checkpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        if "checkpoint" in self.fields:
            self.fields["checkpoint"].choices = list(checkpoints) or [(rules.EXTRA, gettext("Extra reading"))]

    def kind_and_minute(self) -> tuple[str, int | None]:
        value = self.cleaned_data["checkpoint"]
        if value.startswith("m") and value[1:].isdigit():
            return ReadingKind.CHECKPOINT, int(value[1:])
        return value, None

    def clean(self):
        data = super().clean()
        for field, message in rules.physiological_errors(data).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        return data

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in [*rules.PHYSIOLOGICAL_LIMITS, "dissociation"]}


class CorrectionForm(VitalsForm):
    reason = forms.CharField(label=_("Reason for the correction"), max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("checkpoint", "taken_at"):
            del self.fields[name]


class OverrideForm(VisibleTextMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for the override"), widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX
    )


class DoseForm(VisibleTextMixin, forms.Form):
    dose_mg = forms.DecimalField(label=_("Dose (mg)"), max_digits=6, decimal_places=1, min_value=0, required=False)
    lot_number = forms.CharField(label=_("Lot number"), max_length=40, required=False)
    weight_kg = forms.DecimalField(label=_("Weight (kg)"), max_digits=5, decimal_places=1, required=False)
    mg_per_kg = forms.DecimalField(label=_("mg/kg"), max_digits=4, decimal_places=2, min_value=0, required=False)
    started_at = LocalTimeField(label=_("First device / infusion start"), required=False, help_text=_("Empty = now."))


class DeviceForm(VisibleTextMixin, forms.Form):
    administered_at = LocalTimeField(label=_("Time"), required=False, help_text=_("Empty = now."))


class InfusionEndForm(VisibleTextMixin, forms.Form):
    ended_at = LocalTimeField(label=_("End time"), required=False, help_text=_("Empty = now."))


class DoseStopForm(VisibleTextMixin, forms.Form):
    cause = forms.ChoiceField(label=_("Dosing stopped because of"), choices=StopCause.choices)
    adverse_event = forms.TypedChoiceField(label=_("Adverse event"), coerce=int, required=False, empty_value=None)
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX, required=False
    )

    def __init__(self, *args, events=(), **kwargs):
        """``events``: the session's adverse events (as the page already read them)."""
        super().__init__(*args, **kwargs)
        self.fields["adverse_event"].choices = [("", "-")] + [
            (
                e.pk,
                gettext("%(event)s at %(time)s")
                % {"event": e, "time": when(e.onset_at, "time", e.session.chair.site.tzinfo)},
            )
            for e in events
        ]


class AdverseEventForm(VisibleTextMixin, forms.ModelForm):
    onset_at = LocalTimeField(label=_("Onset"), required=False, help_text=_("Empty = now."))

    class Meta:
        model = AdverseEvent
        fields = ["kind", "description", "severity", "serious", "action_taken"]
        widgets = {"action_taken": forms.Textarea(attrs={"rows": 2})}
        # The model's fields without a name of their own: named here, in the clinic's language.
        labels = {
            "kind": _("Kind"),
            "description": _("Description"),
            "severity": _("Severity"),
            "action_taken": _("Action taken"),
        }


class DischargeForm(VisibleTextMixin, forms.Form):
    alert = forms.BooleanField(label=_("Alert"), required=False)
    oriented = forms.BooleanField(label=_("Oriented"), required=False)
    steady = forms.BooleanField(label=_("Steady on their feet"), required=False)
    picked_up_by = forms.CharField(label=_("Taken home by"), max_length=120, required=False)
    picked_up_relationship = forms.CharField(label=_("Relationship"), max_length=60, required=False)
    would_have_been_ready_at = LocalTimeField(
        label=_("Would have been ready to leave at"),
        required=False,
        help_text=_("Had there been no 2-hour minimum (the REMS form asks)."),
    )
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX, required=False
    )


class RemsSubmittedForm(VisibleTextMixin, forms.Form):
    submitted_on = forms.DateField(label=_("Submitted on"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label=_("Confirmation number"), max_length=60, required=False)


class AddendumForm(VisibleTextMixin, forms.Form):
    """A fact added after the discharge. With ``fields`` (the missing REMS record fields: their
    key and label, ``rules.rems_addendable_choices``), it supplies one of them; without, it is a
    late fact of the day."""

    field = forms.ChoiceField(label=_("Missing field"))
    value = forms.CharField(label=_("Fact"), max_length=255)
    reason = forms.CharField(label=_("Why it is added afterwards"), max_length=255)

    def __init__(self, *args, fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        if fields:
            self.fields["field"].choices = list(fields)
            self.fields["value"].label = _("Value")
        else:
            del self.fields["field"]
