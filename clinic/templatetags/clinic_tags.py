from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def url_if_exists(name, *args):
    """Like {% url %} but gives "" when the pattern is not installed, for links between
    apps that the core app must not depend on."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""
