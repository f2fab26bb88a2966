"""Configuration comes from environment variables and a bad value stops start-up with its name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(tmp_path), **env}
    if "DATABASE_URL" not in env:
        environment.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be a boolean"),
        ("DATABASE_URL", "mysql://localhost/x", "DATABASE_URL must be a sqlite:// or postgres:// URL"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a redis://"),
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 32 characters"),
        ("ORCHESTRATE_SECRETS_KEY", "short", "ORCHESTRATE_SECRETS_KEY must be at least 32 characters"),
    ],
)
def test_it_fails_at_start_with_the_variables_name(tmp_path, name, value, message):
    result = _check(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_it_starts_with_nothing_configured(tmp_path):
    result = _check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def _embedded_shell(tmp_path: Path, script: str) -> str:
    """The last line `script` prints in a fresh process of the embedded default (no database or Redis set)."""
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(tmp_path)}
    environment.pop("DATABASE_URL", None)
    environment.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip(), result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_it_uses_sqlite_in_wal_mode_by_default(tmp_path):
    script = "from django.db import connection; print(connection.cursor().execute('PRAGMA journal_mode').fetchone()[0])"
    assert _embedded_shell(tmp_path, script) == "wal"
    assert (tmp_path / "orchestrate.sqlite3").exists()


def test_it_uses_the_bounded_in_memory_channel_layer_by_default(tmp_path):
    # Channels' own layer walks every open page on each event (config/channel_layers.py).
    script = "from channels.layers import get_channel_layer; print(type(get_channel_layer()).__module__)"
    assert _embedded_shell(tmp_path, script) == "config.channel_layers"
