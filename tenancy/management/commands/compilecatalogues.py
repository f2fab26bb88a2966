"""`manage.py compilecatalogues`: the translation catalogues compiled to .mo, in pure Python.

Django's `compilemessages` needs GNU gettext's msgfmt; this does the same for
our catalogues (LOCALE_PATHS) with no tool to install. `make setup` runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from config.catalogues import compile_catalogues


class Command(BaseCommand):
    help = "Compile the translation catalogues (LOCALE_PATHS) into the .mo files Django reads."

    def handle(self, *args: Any, **options: Any) -> None:
        for locale_dir in settings.LOCALE_PATHS:
            for mo in compile_catalogues(Path(locale_dir)):
                self.stdout.write(f"compiled {mo}")
