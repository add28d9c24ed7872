"""The Jinja2 environment of the few row-heavy partials rendered with Django's Jinja2 backend,
and the objects that put such a partial inside a page written in the Django template language."""

from django.template import engines
from django.templatetags.static import static
from django.urls import reverse
from django.utils.timezone import localtime
from django.utils.translation import gettext, gettext_noop, ngettext
from jinja2 import Environment

from clinic import formats


def environment(**options) -> Environment:
    # Always escaped, whatever the options say (Django's backend passes autoescape=True).
    options.pop("autoescape", None)
    extensions = [*options.pop("extensions", ()), "jinja2.ext.i18n"]
    env = Environment(autoescape=True, extensions=extensions, **options)
    # {{ _("Time") }} in a partial: Django's catalog in the language of the request, as in the
    # Django templates. New-style: _("%(title)s chart", title=t) escapes the value, not the text.
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals.update(static=static, url=reverse, localtime=localtime, when=formats.when)
    return env


# The texts of the Jinja2 partials (templates/jinja2/) that no Django template or module has:
# makemessages does not read Jinja2, so they are listed here for the catalog.
# tests/clinic/test_translation.py checks every _() of the partials is in the committed catalog.
JINJA2_ONLY_TEXTS = (
    gettext_noop("Dosing blocked"),
    gettext_noop("%(minutes)s min"),
    gettext_noop("Next device"),
    gettext_noop("now"),
    gettext_noop("Overdue"),
    gettext_noop("Due"),
    gettext_noop("Discharged %(time)s"),
    gettext_noop("Ready for discharge checks"),
    gettext_noop("Ride home not confirmed"),
    gettext_noop("No sessions today."),
    gettext_noop("%(title)s chart"),
    gettext_noop("Nothing in this period."),
    gettext_noop("ride?"),
)


_PK_PLACEHOLDER = 987654321


def url_with_pk(viewname: str):
    """``reverse(viewname, args=[pk])`` for every row of a page at the cost of one reverse():
    some 300 reverse() calls took 5-14 ms of a week grid, 42 of them 2 ms of the board."""
    head, _, tail = reverse(viewname, args=[_PK_PLACEHOLDER]).partition(str(_PK_PLACEHOLDER))
    return lambda pk: f"{head}{int(pk)}{tail}"


def choice_labels(choices) -> dict:
    """Each choice's label in the active language, translated once for a page of rows.
    ``get_FOO_display()`` translates every label of the field's choices at each call (Django
    builds a dict of them): on the board's 43 rows that was 340 translations, a third of the
    rows' rendering."""
    return {value: str(label) for value, label in choices}


class Partial:
    """A template of templates/jinja2/ with its context, printed in a Django template by
    ``{% include partial %}``: the include tag accepts any object with a render() method and
    prints what it returns (here autoescaped by Jinja2)."""

    def __init__(self, template_name: str, context: dict):
        self.template_name = template_name
        self.context = context

    def render(self, context=None) -> str:
        return self.rendered()

    def rendered(self) -> str:
        return engines["jinja2"].get_template(self.template_name).render(self.context)


class Rendered:
    """HTML a ``Partial`` rendered earlier (a report kept for a few seconds), for
    ``{% include rendered %}``."""

    def __init__(self, html: str):
        self.html = html

    def render(self, context=None) -> str:
        return self.html
