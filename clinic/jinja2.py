"""The Jinja2 environment of the few partials rendered with Django's Jinja2 backend."""

from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment


def environment(**options) -> Environment:
    env = Environment(**options)  # noqa: S701 - Django's Jinja2 backend turns autoescape on
    env.globals.update(static=static, url=reverse)
    return env
