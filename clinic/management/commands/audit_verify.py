"""Walk the audit trail's hash chain and name the first row that does not match; check the
chain still reaches its recorded end (the latest signed checkpoint, and an anchor given with
--expect-head); record a new checkpoint when it is intact."""

from django.core.management.base import BaseCommand, CommandError

from clinic.audit import audit_chain_verify, parse_head


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain: reports it intact with the row count and its head "
        "(COUNT:HASH, keep it outside the database), or names the first broken row or the missing end."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000, help="rows read per query (default 2000)")
        parser.add_argument(
            "--expect-head",
            metavar="COUNT:HASH",
            help="a head printed by an earlier run and kept elsewhere: the chain must still have that row",
        )
        parser.add_argument(
            "--no-checkpoint", action="store_true", help="do not record a checkpoint of the verified end"
        )

    def handle(self, *args, batch_size, expect_head, no_checkpoint, **options):
        try:
            expected = parse_head(expect_head) if expect_head else None
        except ValueError as exc:
            raise CommandError(f"--expect-head: {exc}") from None
        report = audit_chain_verify(batch_size=batch_size, expect_head=expected, checkpoint=not no_checkpoint)
        if not report.intact:
            if report.broken_id is None:
                raise CommandError(f"Audit chain BROKEN at its end: {report.reason}.")
            raise CommandError(
                f"Audit chain BROKEN at row id {report.broken_id}: {report.reason}. "
                f"{report.count - 1} rows before it verified."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit chain intact: {report.count} rows verified (last row id {report.head_id}, "
                f"hash {report.head_hash}). Head: {report.count}:{report.head_hash}"
            )
        )
