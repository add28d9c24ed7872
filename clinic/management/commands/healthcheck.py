"""Container health checks (docker-compose): print the health report as JSON and exit 1 when a
required part is not "ok".

    manage.py healthcheck                          # everything /healthz checks
    manage.py healthcheck --require beat           # beat's heartbeat only (the beat container)
    manage.py healthcheck --url http://127.0.0.1:8000/healthz --require database
                                                   # the web server answers /healthz (the web container)
"""

import json
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.health import PROCESSES, health_report

PARTS = ("database", "broker", *PROCESSES)


class Command(BaseCommand):
    help = "Exit 0 when the app (or the parts named) is healthy, 1 otherwise."

    def add_arguments(self, parser):
        parser.add_argument("--require", action="append", choices=PARTS, default=[])
        parser.add_argument("--url", default="", help="ask this /healthz address instead of checking in process")

    def handle(self, *args, require, url, **options):
        report = self._fetch(url) if url else health_report()
        self.stdout.write(json.dumps(report))
        parts = require or PARTS
        bad = [part for part in parts if report.get(part) != "ok"]
        if bad:
            raise CommandError(f"not healthy: {', '.join(f'{part} {report.get(part)}' for part in bad)}")

    def _fetch(self, url: str) -> dict:
        host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")), "localhost")
        request = urllib.request.Request(url, headers={"Host": host, "X-Forwarded-Proto": "https"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the operator's own URL
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503 still carries the report
            try:
                return json.loads(exc.read())
            except ValueError:
                raise CommandError(f"{url} answered {exc.code} without a health report") from None
        except (OSError, ValueError) as exc:
            raise CommandError(f"{url} did not answer: {exc}") from None
