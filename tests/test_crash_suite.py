"""The crash suite: runs with an e-mail each, under kill -9 and service restarts, lose nothing and send once.

Twenty runs (a 2-second step, then an e-mail that needs approval) are
submitted one a second and approved as they come (tests/support/crash_driver.py,
its own process) while this test kill -9s a random Celery worker main
process or pool child every few seconds, starting a new worker whenever
one is gone (as systemd would, deploy/); then it restarts Redis, then
PostgreSQL, once each. Both are this test's own servers on spare ports
(tests/support/private_services.py); Redis keeps nothing across a restart.

It must show: no run lost (all 20 succeed), exactly one e-mail per run at
the SMTP server, and every run finished within 30 s of the last fault. The
figures are printed (pytest -s) and written to $ORCHESTRATE_CRASH_REPORT
when set.

Marked `crash`: it runs in CI's PostgreSQL pass (tests/conftest.py) and
takes two to three minutes.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import ROOT, CeleryProcess
from tests.support.private_services import PrivatePostgres, PrivateRedis
from tests.support.smtp_server import SMTPTestServer

pytestmark = [pytest.mark.crash, pytest.mark.services]

RUNS = 20
WORKERS = 3
KILL_PHASE_SECONDS = 24
RECOVERY_LIMIT_SECONDS = 30


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


class Workers:
    """Celery workers against the private services; a dead one is replaced, as a supervisor would."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[CeleryProcess] = []
        self.retired: list[CeleryProcess] = []
        self.kills: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def start(self) -> None:
        process = CeleryProcess("worker", **self.env)
        with self._lock:
            self.processes.append(process)

    def start_many(self, count: int) -> None:
        threads = [threading.Thread(target=self.start) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def kill_one(self, chooser: random.Random) -> None:
        with self._lock:
            alive = [process for process in self.processes if process.process.poll() is None]
        if not alive:
            return
        victim = chooser.choice(alive)
        children = _children(victim.process.pid)
        if children and chooser.random() < 0.5:
            os.kill(chooser.choice(children), signal.SIGKILL)
            self.kills["pool child"] += 1
        else:
            os.kill(victim.process.pid, signal.SIGKILL)  # its pool children are left orphaned, as in real life
            self.kills["main process"] += 1

    def replace_dead(self) -> None:
        with self._lock:
            dead = [process for process in self.processes if process.process.poll() is not None]
            for process in dead:
                self.processes.remove(process)
                self.retired.append(process)
        for _ in dead:
            threading.Thread(target=self.start, daemon=True).start()

    def stop(self) -> None:
        for process in [*self.processes, *self.retired]:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.process.pid, signal.SIGKILL)
                process.process.wait(timeout=10)


def _driver(command: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_driver", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_it_loses_no_run_and_sends_each_email_once_under_kills_and_restarts(settings):
    started = time.monotonic()
    postgres = PrivatePostgres()
    redis_server = PrivateRedis(persist=False)
    smtp = SMTPTestServer()
    smtp.start()
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_server.url(),
        "ORCHESTRATE_RUN_MODE": "celery",
        "EMAIL_URL": smtp.url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ORCHESTRATE_QUEUE": f"crash-{os.getpid()}",
        "ORCHESTRATE_WORKER_SWEEPER": "true",  # no beat at all: the workers recover on their own
        "ORCHESTRATE_LOG_FLUSHER": "1",
    }
    workers = Workers({key: env[key] for key in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "ORCHESTRATE_QUEUE")})
    workers.env |= {"ORCHESTRATE_WORKER_SWEEPER": "true", "CONCURRENCY": "2", "ORCHESTRATE_RUN_MODE": "celery"}
    driver = None
    faults: list[tuple[str, float]] = []
    try:
        setup = _driver(["setup"], env)
        assert setup.wait(timeout=180) == 0, "migrating the private database failed"
        workers.start_many(WORKERS)
        driver = _driver(["drive", str(RUNS), "1.0"], env)
        chooser = random.Random(int(os.environ.get("ORCHESTRATE_CRASH_SEED", "8")))
        kill_until = time.monotonic() + KILL_PHASE_SECONDS
        time.sleep(2)
        while time.monotonic() < kill_until:
            workers.kill_one(chooser)
            faults.append(("kill", time.time()))
            time.sleep(chooser.uniform(2.0, 4.0))
            workers.replace_dead()
        redis_server.restart(down_for=2)
        faults.append(("redis restarted", time.time()))
        time.sleep(5)
        workers.replace_dead()
        postgres.restart(down_for=2)
        last_fault = time.time()
        faults.append(("postgresql restarted", last_fault))
        for _ in range(20):  # a pool child that died during start-up takes its worker down: start another
            time.sleep(1)
            workers.replace_dead()

        output, _ = driver.communicate(timeout=240)
        report = json.loads(output.strip().splitlines()[-1])
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
        workers.stop()
        smtp.stop()
        redis_server.close()
        postgres.close()

    runs = report["runs"]
    subjects = collections.Counter(str(received.message["Subject"]) for received in smtp.messages)
    late = [run for run in runs if run["completed_at"] is None or run["completed_at"] > last_fault + 30]
    figures = {
        "runs": len(runs),
        "succeeded": sum(run["status"] == "succeeded" for run in runs),
        "emails_received": len(smtp.messages),
        "runs_with_one_email": sum(subjects[f"crash run {run['number']}"] == 1 for run in runs),
        "kills": dict(workers.kills),
        "faults": len(faults),
        "last_run_finished_after_last_fault_s": round(
            max(run["completed_at"] or float("inf") for run in runs) - last_fault, 1
        ),
        "suite_seconds": round(time.monotonic() - started, 1),
    }
    print("crash suite figures:", json.dumps(figures))
    if os.environ.get("ORCHESTRATE_CRASH_REPORT"):
        Path(os.environ["ORCHESTRATE_CRASH_REPORT"]).write_text(json.dumps(figures, indent=2))

    assert len(runs) == RUNS
    assert [run for run in runs if run["status"] != "succeeded"] == []
    assert all(subjects[f"crash run {run['number']}"] == 1 for run in runs), subjects
    assert len(smtp.messages) == RUNS
    assert late == [], f"finished more than {RECOVERY_LIMIT_SECONDS}s after the last fault: {late}"
    assert workers.kills["pool child"] + workers.kills["main process"] >= 5
