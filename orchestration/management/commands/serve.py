from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Migrate, create the demo workspace and admin on first run, then serve the console with daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("bootstrap")
        self.stdout.write(f"Orchestrate is at http://{host}:{port}/orchestrate")
        self.stdout.flush()
        # Replace this process so daphne receives signals (Ctrl-C) directly.
        daphne = [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"]
        os.execv(sys.executable, daphne)
