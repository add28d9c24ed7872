"""The Jinja2 environment of the few partials rendered with Django's Jinja2 backend."""

from django.templatetags.static import static
from django.urls import reverse
from django.utils.timezone import localtime
from jinja2 import Environment


def environment(**options) -> Environment:
    # Always escaped, whatever the options say (Django's backend passes autoescape=True).
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.globals.update(static=static, url=reverse, localtime=localtime)
    return env
