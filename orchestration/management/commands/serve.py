from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


def _host(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or "?") + (f":{parts.port}" if parts.port else "")


def integrations_summary() -> list[str]:
    """One line each for e-mail, calendar and language model: the real service, or the built-in default."""
    if settings.EMAIL_BACKEND == "tools.integrations.email.outbox.OutboxBackend":
        mail = (
            f"E-mail:         built-in outbox (EMAIL_URL is unset): kept in {settings.OUTBOX_DIR}, "
            "shown on /orchestrate/outbox/, NOT delivered"
        )
    else:
        mail = f"E-mail:         real, SMTP at {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if settings.CALDAV_URL:
        calendar = f"Calendar:       real, CalDAV at {_host(settings.CALDAV_URL)} (one calendar per workspace)"
    else:
        calendar = (
            "Calendar:       built-in, one per workspace (CALDAV_URL is unset): /orchestrate/calendar/ and its ICS feed"
        )
    if settings.LLM_BASE_URL:
        model = f"Language model: real, {settings.LLM_MODEL} at {_host(settings.LLM_BASE_URL)}"
    else:
        model = "Language model: none (LLM_BASE_URL is unset): the built-in rule planner reads requests"
    return [mail, calendar, model]


class Command(BaseCommand):
    help = "Migrate, create the demo workspace and admin on first run, then serve the console with daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("bootstrap")
        for line in integrations_summary():
            self.stdout.write(line)
        self.stdout.write(f"Orchestrate is at http://{host}:{port}/orchestrate")
        self.stdout.flush()
        # Replace this process so daphne receives signals (Ctrl-C) directly.
        daphne = [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"]
        os.execv(sys.executable, daphne)
