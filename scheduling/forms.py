"""Input parsing for the course wizard and the session actions. Rules live in rules.py and
services.py; these forms only turn what the scheduler typed into clean values."""

import datetime as dt

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.formats import INPUT_DATE_FORMAT, INPUT_TIME_FORMAT, when
from clinic.forms import VisibleTextMixin
from clinic.models import Chair, Site, Weekday

from . import rules
from .models import Protocol, TransportArrangement


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format=INPUT_DATE_FORMAT, **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format=INPUT_TIME_FORMAT, **kwargs)


class SessionDateField(forms.DateField):
    """A day a session can be on: from today (``today``, the site's, set by the form) up to
    the booking horizon. Year 9999 or 0001 is a typing mistake, told beside the field."""

    default_error_messages = {"out_of_range": _("Choose a day from %(first)s up to %(last)s.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", DateInput())
        super().__init__(**kwargs)
        self.today: dt.date | None = None

    def validate(self, value):
        super().validate(value)
        if value in self.empty_values:
            return
        today = self.today or timezone.localdate()
        if not rules.bookable_day(value, today):
            raise ValidationError(
                self.error_messages["out_of_range"],
                code="out_of_range",
                params={"first": when(today, "plain_date"), "last": when(rules.booking_horizon(today), "plain_date")},
            )


def clean_local_time(form: forms.Form, tz) -> None:
    """Refuse, beside the time field, a local time the clocks skip that day (it would be
    stored, shown and reminded an hour off). A repeated time is its first occurrence."""
    day, at = form.cleaned_data.get("date"), form.cleaned_data.get("time")
    if tz is not None and day and at and (problem := rules.clock_problem(day, at, tz)):
        form.add_error("time", ValidationError(problem, code="time_skipped"))


class ChairChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class CourseSetupForm(VisibleTextMixin, forms.Form):
    """Step 1 of the course wizard: what the scheduler wants."""

    protocol = forms.ModelChoiceField(queryset=Protocol.objects.filter(active=True), label=_("Protocol"))
    start_date = SessionDateField(label=_("Start date"))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Twice-weekly sessions need two days with a day between them, e.g. Monday and Thursday."),
    )
    start_time = forms.TimeField(widget=TimeInput(), initial=dt.time(9), label=_("Start time"))
    chair = ChairChoiceField(queryset=Chair.objects.none(), label=_("Preferred chair"))

    error_messages = {
        "too_few_days": _("%(protocol)s needs %(count)s sessions a week: choose at least %(count)s weekdays."),
    }

    def __init__(self, *args, site: Site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        self.fields["chair"].queryset = Chair.objects.filter(site=site, active=True).order_by("name")
        self.fields["start_date"].today = site.local_today()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("protocol", css_class="col-md-6"), Column("start_date"), Column("start_time")),
            Row(Column("weekdays", css_class="col-md-6"), Column("chair")),
        )

    def clean(self):
        data = super().clean()
        protocol, weekdays = data.get("protocol"), data.get("weekdays")
        if protocol and weekdays:
            needed = max((p.sessions_per_week for p in protocol.phases.all()), default=1)
            if len(set(weekdays)) < needed:
                self.add_error(
                    "weekdays",
                    ValidationError(
                        self.error_messages["too_few_days"],
                        code="too_few_days",
                        params={"protocol": protocol.name, "count": needed},
                    ),
                )
        return data

    def phase_specs(self) -> list[rules.PhaseSpec]:
        return phase_specs(self.cleaned_data["protocol"])


def phase_specs(protocol: Protocol) -> list[rules.PhaseSpec]:
    return [p.spec() for p in protocol.phases.all()]


class ProposalRowForm(forms.Form):
    """One proposed session in the preview: the scheduler may change its day, time or chair,
    or leave it out. Its phase, length and dose are not fields: the confirm step generates the
    proposal again from the protocol and books each row with its proposal's phase."""

    include = forms.BooleanField(
        required=False, initial=True, label=_("Book"), widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
    )
    date = SessionDateField(label=_("Day"))
    time = forms.TimeField(widget=TimeInput(), label=_("Time"))
    chair = ChairChoiceField(
        queryset=Chair.objects.none(),
        label=_("Chair"),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, chairs=None, today: dt.date | None = None, tz=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chair"].queryset = chairs if chairs is not None else Chair.objects.none()
        self.fields["date"].today = today
        self.tz = tz

    def clean(self):
        data = super().clean()
        clean_local_time(self, self.tz)
        return data


class BaseProposalFormSet(forms.BaseFormSet):
    def __init__(self, *args, chairs=None, today: dt.date | None = None, tz=None, **kwargs):
        self.chairs = chairs
        self.today = today
        self.tz = tz
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "chairs": self.chairs, "today": self.today, "tz": self.tz}


ProposalFormSet = forms.formset_factory(ProposalRowForm, formset=BaseProposalFormSet, extra=0, max_num=200)


class VersionForm(forms.Form):
    """Carries the session's version so a stale page is refused."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class SessionMoveForm(VersionForm):
    THIS, FOLLOWING = "this", "following"

    date = SessionDateField(label=_("Date"))
    time = forms.TimeField(widget=TimeInput(), label=_("Time"))
    chair = ChairChoiceField(queryset=Chair.objects.none(), label=_("Chair"))
    scope = forms.ChoiceField(
        label=_("Move"),
        choices=[
            (THIS, _("This session only")),
            (FOLLOWING, _("This and the following ones (they keep their spacing)")),
        ],
        initial=THIS,
        required=False,
        widget=forms.RadioSelect,
    )

    def clean_scope(self):
        return self.cleaned_data.get("scope") or self.THIS

    def __init__(self, *args, site: Site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        self.fields["chair"].queryset = Chair.objects.filter(site=site, active=True).order_by("name")
        self.fields["date"].today = site.local_today()

    def clean(self):
        data = super().clean()
        clean_local_time(self, self.site.tzinfo)
        return data

    def start(self) -> dt.datetime:
        return rules.local_datetime(self.cleaned_data["date"], self.cleaned_data["time"], self.site.tzinfo)


class SessionCancelForm(VisibleTextMixin, VersionForm):
    reason = forms.CharField(
        label=_("Reason"), max_length=255, widget=forms.TextInput(attrs={"placeholder": _("e.g. patient unwell")})
    )


class CourseStopForm(VisibleTextMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why is the course stopping?"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. course complete, switched treatment")}),
    )


class TransportForm(VisibleTextMixin, forms.ModelForm):
    confirmed = forms.BooleanField(
        required=False,
        label=_("Confirmed with the patient or driver"),
        help_text=_("Leave unticked if still to check."),
    )

    class Meta:
        model = TransportArrangement
        fields = ["kind", "name", "phone", "relationship", "booking_reference"]
        labels = {
            "kind": _("Ride home"),
            "name": _("Driver or ride service"),
            "phone": _("Phone"),
            "relationship": _("Relationship"),
            "booking_reference": _("Ride booking reference"),
        }

    error_messages = {"name_required": _("Enter who takes the patient home.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = True
        self.fields["name"].error_messages["required"] = self.error_messages["name_required"]
        if self.instance and self.instance.pk:
            self.fields["confirmed"].initial = self.instance.is_confirmed
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_phone(self):
        from django.conf import settings

        from clinic.rules import normalise_phone

        phone = self.cleaned_data.get("phone", "").strip()
        return normalise_phone(phone, settings.PHONE_DEFAULT_REGION) if phone else ""


class CourseReviewForm(VisibleTextMixin, forms.Form):
    """A prescriber's decision at a phase's review: what the course does next, and why."""

    decision = forms.ChoiceField(label=_("Decision"), choices=[], widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("Note (the reason, what was discussed)"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. response at week 4, tolerated 84 mg")}),
    )

    error_messages = {"stop_needs_note": _("Write why the course stops.")}

    def __init__(self, *args, decisions: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = decisions

    def clean(self):
        data = super().clean()
        if data.get("decision") == "stop" and not data.get("note", "").strip():
            self.add_error("note", ValidationError(self.error_messages["stop_needs_note"], code="stop_needs_note"))
        return data
