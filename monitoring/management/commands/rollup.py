"""`manage.py rollup [--days N] [--rebuild]`: roll up the dashboard's closed hours now (backfill)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring.rollups import HORIZON, roll_window


class Command(BaseCommand):
    help = (
        "Roll up the monitoring dashboard's figures for every closed hour of the last N days that is not "
        "rolled up yet or is stale (all of them with --rebuild). Safe to run at any time: rolling is idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=HORIZON.days, help=f"how far back (default {HORIZON.days})")
        parser.add_argument("--rebuild", action="store_true", help="roll up hours already rolled up as well")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days < 1:
            raise CommandError("--days must be at least 1")
        started = time.perf_counter()
        now = timezone.now()
        hours = roll_window(now - timedelta(days=days), now, rebuild=options["rebuild"])
        self.stdout.write(f"Rolled up {hours} hours in {time.perf_counter() - started:.1f} s.")
