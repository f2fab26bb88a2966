"""The systemd units in deploy/ supervise every process and start what the README says."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_it_ships_a_unit_for_the_web_the_workers_and_beat():
    assert [unit.name for unit in UNITS] == [
        "orchestrate-beat.service",
        "orchestrate-web.service",
        "orchestrate-worker@.service",
    ]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_it_restarts_every_process_whatever_ended_it(path):
    service = _unit(path)["Service"]
    assert service["Restart"] == "always"  # Celery exits when a pool child dies during start-up
    assert service["EnvironmentFile"] == "/etc/orchestrate/orchestrate.env"
    assert service["User"] != "root"


def test_it_starts_workers_on_both_queues_with_a_warm_shutdown():
    service = _unit(DEPLOY / "orchestrate-worker@.service")["Service"]
    assert "celery -A config worker" in service["ExecStart"]
    assert " -Q " not in service["ExecStart"]  # the step queue and the sweep queue, as settings declare
    assert service["KillMode"] == "mixed"


def test_it_passes_systemds_own_check(tmp_path):
    if shutil.which("systemd-analyze") is None:
        return  # checked where systemd is installed; the parsing tests above run everywhere
    for path in UNITS:
        (tmp_path / path.name).write_text(path.read_text())
    result = subprocess.run(
        ["systemd-analyze", "verify", *[str(tmp_path / path.name) for path in UNITS]],
        capture_output=True,
        text=True,
    )
    problems = [line for line in result.stderr.splitlines() if "is not executable" not in line and line.strip()]
    assert problems == []
