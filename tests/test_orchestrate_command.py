"""`manage.py orchestrate`: the command line operators and scripts use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.engine import database_url
from tools.drive import WorkspaceDrive

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("engine")


def _orchestrate(*args: str) -> subprocess.CompletedProcess[str]:
    from django.conf import settings

    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    if settings.ORCHESTRATE_RUN_MODE == "celery":
        env["REDIS_URL"] = settings.REDIS_URL or ""
    return subprocess.run(
        [sys.executable, "manage.py", "orchestrate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sales(workspace_a):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales_a.csv", "region,revenue\nnorth,10\nsouth,20\n")
    drive.write_text("sales_b.csv", "region,revenue\nnorth,5\n")
    return drive


def test_it_runs_a_request_and_prints_json(alice, workspace_a, sales):
    request = "summarise the sales CSV files and write a report"
    first = _orchestrate(request, "--workspace", "A", "--user", "alice", "--wait", "--json")
    assert first.returncode == 0, first.stderr
    run = json.loads(first.stdout)
    assert set(run) == {"id", "status", "error", "result", "steps"}
    assert run["status"] == "succeeded"
    assert run["error"] is None
    assert [(s["number"], s["agent"], s["tool"], s["status"]) for s in run["steps"]] == [
        (1, "drive", "drive.search", "succeeded"),
        (2, "analysis", "analysis.describe", "succeeded"),
        (3, "report", "report.compose", "succeeded"),
    ]
    assert all(set(s) >= {"cached", "duration_ms", "tokens_used"} for s in run["steps"])
    assert sales.exists(run["result"]["outputs"]["3"]["path"])

    second = json.loads(_orchestrate(request, "--workspace", "A", "--user", "alice", "--wait", "--json").stdout)
    assert [s["cached"] for s in second["steps"]] == [False, True, False]


def test_it_shows_progress_and_exits_non_zero_when_the_run_fails(alice, workspace_a):
    result = _orchestrate("make me a sandwich", "--workspace", "A", "--user", "alice", "--wait")
    assert result.returncode == 1
    assert "failed" in result.stdout
    assert "No tool can serve this request" in result.stdout
    assert "Installed tools can" in result.stdout
    assert "] 0/? " in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--workspace", "Nowhere", "--user", "alice"], "No workspace named 'Nowhere'"),
        (["x", "--workspace", "A", "--user", "nobody"], "No user named 'nobody'"),
        (["   ", "--workspace", "A", "--user", "alice"], "Type a request"),
        (["x", "--workspace", "B", "--user", "alice"], "You may not run requests in B"),
    ],
)
def test_it_refuses_bad_arguments_clearly(alice, workspace_b, args, message):
    result = _orchestrate(*args)
    assert result.returncode == 1
    assert message in result.stderr
