import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve with a security error (clinic/checks.py).
from django.core.checks import Tags, run_checks  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

_errors = [e for e in run_checks(tags=[Tags.security]) if e.is_serious()]
if _errors:
    raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg}" for e in _errors))
