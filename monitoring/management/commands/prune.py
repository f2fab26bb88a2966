"""`manage.py prune [--days N] [--dry-run]`: delete monitoring rows older than the retention window."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.retention import cutoff, prune


class Command(BaseCommand):
    help = "Delete logs, metrics, traces and webhook history older than ORCHESTRATE_RETENTION_DAYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="the window in days (default ORCHESTRATE_RETENTION_DAYS)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
        parser.add_argument("--batch-size", type=int, help="rows per delete (default ORCHESTRATE_PRUNE_BATCH)")

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.ORCHESTRATE_RETENTION_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days cannot be negative")
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if days == 0:
            self.stdout.write("Retention is 0 days: everything is kept.")
            return
        counts = prune(days, dry_run=options["dry_run"], batch_size=options["batch_size"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} rows older than {cutoff(days):%Y-%m-%d %H:%M:%S %Z} ({days} days):")
        for label, count in counts.items():
            self.stdout.write(f"  {label}: {count}")
