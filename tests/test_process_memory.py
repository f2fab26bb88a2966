"""A server process: what loading the app costs, kept out of the garbage collector's full passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_the_app(tmp_path: Path, then: str) -> str:
    """Import config.asgi as a server does (embedded, on SQLite), then run `then`; what it printed."""
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(tmp_path), "ORCHESTRATE_EMBEDDED_SWEEPER": "false"}
    environment.pop("DATABASE_URL", None)
    loaded = subprocess.run(
        [sys.executable, "-c", f"import gc, sys, config.asgi; {then}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    return loaded.stdout


def test_a_server_process_freezes_what_loading_the_app_made(tmp_path):
    loaded = _load_the_app(tmp_path, "print(gc.get_freeze_count())")

    # The app's modules, settings, URL patterns and templates: tens of thousands of objects.
    assert int(loaded.split()[-1]) > 10_000


def test_a_server_process_loads_the_mcp_sdk_only_when_its_endpoint_is_called(tmp_path):
    """The SDK and its HTTP stack were three quarters of a server's start (tools_mcp/endpoint.py)."""
    loaded = _load_the_app(
        tmp_path, "print(sorted(name for name in ('mcp', 'uvicorn', 'starlette') if name in sys.modules))"
    )

    assert loaded.split()[-1] == "[]"
