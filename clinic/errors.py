"""Exceptions a page raises for a state of the installation rather than of the request."""

from django.http import Http404


class NoSiteYet(Http404):
    """No clinic site exists yet (a fresh installation): the page shows how to set one up
    (clinic.middleware_setup) instead of "not found"."""
