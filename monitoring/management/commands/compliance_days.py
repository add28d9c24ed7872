"""Check the compliance report's stored days against the sessions, or clear them."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from clinic.models import Site
from monitoring import report_days
from monitoring.models import ComplianceDay


class Command(BaseCommand):
    help = (
        "Compare every stored day of the compliance report with the same day computed from the sessions "
        "(exit status 1 and the days that differ if any do). --clear removes the stored days; the next "
        "reports compute and store them again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clear", action="store_true", help="remove every stored day instead of checking")

    def handle(self, *args, clear, **options):
        if clear:
            count, _ = ComplianceDay.objects.all().delete()
            self.stdout.write(self.style.SUCCESS(f"Cleared {count} stored days."))
            return
        now = timezone.now()
        differ, checked = [], 0
        for site in Site.objects.order_by("name"):
            checked += ComplianceDay.objects.filter(site=site, summary__isnull=False).count()
            differ += [f"{site.name} {day}" for day in report_days.check_stored(site, now=now)]
        if differ:
            raise CommandError(f"{len(differ)} of {checked} stored days differ from the sessions: {', '.join(differ)}")
        self.stdout.write(self.style.SUCCESS(f"{checked} stored days agree with the sessions."))
