from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tools.discovery import discover_tools


class Command(BaseCommand):
    help = "Refresh the tool catalogue from the tools this installation registers (built-in, extra and plugins)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = discover_tools()
        for label, names in (("added", report.added), ("updated", report.updated), ("missing", report.missing)):
            for name in names:
                self.stdout.write(f"{label}\t{name}")
        self.stdout.write(self.style.SUCCESS(f"Tool discovery: {report}"))
