from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from learning.services.patterns import nightly


class Command(BaseCommand):
    help = (
        "The learning batch (Celery beat runs it nightly as learning.nightly): learn from the finished runs of the "
        "last days that the per-run job missed, then compute every pattern's and prompt version's numbers again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=1, help="How far back to look for runs not learned from")

    def handle(self, *args: Any, **options: Any) -> None:
        count = nightly(days=max(1, options["days"]))
        self.stdout.write(f"Learned from {count} runs; patterns and prompt scores refreshed.")
