from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tenancy.bootstrap import ensure_demo_setup, password_file


class Command(BaseCommand):
    help = "Create the demo workspace and the admin user on first run, and say how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        hint = ensure_demo_setup()
        if hint.password:
            self.stdout.write(
                f"Log in as {hint.username!r} with password {hint.password!r} (kept in {password_file()})."
            )
        else:
            self.stdout.write(f"Log in as {hint.username!r} with the password you set.")
