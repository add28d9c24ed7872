from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Load demo users, a site, patients and a sample schedule. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow running with DEBUG off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data with DEBUG off (a production database?). Use --force.")
        with transaction.atomic():
            for dotted in settings.DEMO_SEEDERS:
                import_string(dotted)(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
