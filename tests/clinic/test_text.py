"""Invisible format characters never reach a page: taken out of form values and of what model
text fields store."""

import pytest
from django import forms

from clinic.fields import CharField
from clinic.forms import VisibleTextMixin
from clinic.text import strip_invisible

RLO = "\u202e"


@pytest.mark.parametrize(
    "char",
    ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"],
)
def test_it_strips_every_bidi_control(char):
    assert strip_invisible(f"+1212{char}5550123") == "+12125550123"


def test_it_keeps_letters_of_every_script():
    assert strip_invisible("Zoë 李 محمد") == "Zoë 李 محمد"


def test_a_form_with_the_mixin_cleans_every_text_value():
    class NameForm(VisibleTextMixin, forms.Form):
        name = forms.CharField()

    form = NameForm({"name": f"Ann{RLO}e"})
    assert form.is_valid()
    assert form.cleaned_data["name"] == "Anne"


def test_the_model_field_deconstructs_as_djangos_own():
    assert CharField(max_length=5).deconstruct()[1] == "django.db.models.CharField"
