"""Walk the audit trail's hash chain and name the first row that does not match."""

from django.core.management.base import BaseCommand, CommandError

from clinic.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain: reports it intact with the row count, or names the first broken row."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000, help="rows read per query (default 2000)")

    def handle(self, *args, batch_size, **options):
        report = audit_chain_verify(batch_size=batch_size)
        if not report.intact:
            raise CommandError(
                f"Audit chain BROKEN at row id {report.broken_id}: {report.reason}. "
                f"{report.count - 1} rows before it verified."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit chain intact: {report.count} rows verified (last row id {report.head_id}, "
                f"hash {report.head_hash})."
            )
        )
