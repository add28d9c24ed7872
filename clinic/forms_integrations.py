from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .forms import VisibleTextMixin
from .models import Site
from .models_integrations import IntegrationToken


class IntegrationTokenForm(VisibleTextMixin, forms.Form):
    name = forms.CharField(
        label=_("Used by"), max_length=120, help_text=_("e.g. “Epic interface engine”, “Front desk calendar”.")
    )
    purpose = forms.ChoiceField(label=_("Purpose"), choices=IntegrationToken.Purpose.choices)
    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.all(),
        required=False,
        help_text=_("A calendar feed shows the sessions of one site."),
    )

    error_messages = {"site_required": _("Choose the site whose sessions the calendar feed shows.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("Say who uses this token."), code="required")
        return name

    def clean(self):
        data = super().clean()
        if (
            data.get("purpose") == IntegrationToken.Purpose.CALENDAR
            and not data.get("site")
            and "site" not in self.errors
        ):
            self.add_error("site", ValidationError(self.error_messages["site_required"], code="site_required"))
        return data
