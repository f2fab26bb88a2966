"""A server process keeps what loading the app made out of the garbage collector's full passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_server_process_freezes_what_loading_the_app_made(tmp_path):
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(tmp_path), "ORCHESTRATE_EMBEDDED_SWEEPER": "false"}
    environment.pop("DATABASE_URL", None)
    loaded = subprocess.run(
        [sys.executable, "-c", "import gc, config.asgi; print(gc.get_freeze_count())"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert loaded.returncode == 0, loaded.stderr
    # The app's modules, settings, URL patterns and templates: tens of thousands of objects.
    assert int(loaded.stdout.split()[-1]) > 10_000
