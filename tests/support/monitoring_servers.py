"""Real monitoring servers for the tests: Prometheus (Debian's package) and Arize Phoenix (an OTLP receiver from PyPI).

Both are installed by the Makefile (`make prometheus otel-receiver`, part of
`make test`); missing, the tests that need them skip (a failure in CI).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = Path("/usr/bin/prometheus")
PHOENIX = ROOT / "var" / "phoenix" / "bin" / "phoenix"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Prometheus:
    """A Prometheus server scraping one target every second."""

    def __init__(self, target: str, token: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="orchestrate-test-prometheus-server-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        (self.directory / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: orchestrate\n    metrics_path: /metrics\n"
            f"    authorization:\n      type: Bearer\n      credentials: {token}\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = (self.directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = get_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql: str, expected: float, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last: float | None = None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                last = self.value(promql)
                if last == expected:
                    return
            time.sleep(0.5)
        raise AssertionError(f"{promql} = {last}, expected {expected}; log:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.process)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def prometheus_server() -> Iterator[type[Prometheus]]:
    if not PROMETHEUS.exists():
        pytest.skip(f"{PROMETHEUS} is missing: run `make prometheus` as root, or `apt-get install prometheus`")
    started: list[Prometheus] = []

    def start(target: str, token: str) -> Prometheus:
        server = Prometheus(target, token)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.stop()


class Phoenix:
    """Arize Phoenix receiving OTLP over HTTP, with its REST API to read the spans back."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="orchestrate-test-phoenix-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        environment = {
            **os.environ,
            "PHOENIX_WORKING_DIR": str(self.directory),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }
        for name in ("DATABASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "PHOENIX_SQL_DATABASE_URL"):
            environment.pop(name, None)
        self.log = (self.directory / "phoenix.log").open("wb")
        self.process = subprocess.Popen(
            [str(PHOENIX), "serve"], env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        # A first start migrates its database and compiles its modules: slow on a busy machine.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2).read()
                return
            time.sleep(1)
        self.stop()
        raise AssertionError(f"Phoenix did not start:\n{self.output()[-4000:]}")

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            query = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            page = get_json(f"{self.url}/v1/projects/default/spans?" + urllib.parse.urlencode(query))
            found += [span for span in page["data"] if span["context"]["trace_id"] == trace_id]
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return found

    def all_spans(self) -> list[dict[str, Any]]:
        return get_json(f"{self.url}/v1/projects/default/spans?limit=1000")["data"]

    def output(self) -> str:
        return (self.directory / "phoenix.log").read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.process)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def phoenix() -> Iterator[Phoenix]:
    if not PHOENIX.exists():
        pytest.skip(f"{PHOENIX} is missing: run `make otel-receiver` (installs Arize Phoenix from PyPI into var/)")
    receiver = Phoenix()
    yield receiver
    receiver.stop()
