from django.shortcuts import render

from .errors import NoSiteYet


class NoSiteGuidanceMiddleware:
    """A page that needs a site, on an installation without one, shows what to do: an
    administrator is pointed at ``manage.py setup_clinic`` and the Django admin, anyone else
    is told to ask one (200, not a 404 page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, NoSiteYet):
            return render(request, "clinic/no_site.html", {"path": request.path})
        return None
