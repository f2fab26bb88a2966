"""A real CalDAV server (Radicale) for tests, on 127.0.0.1 and a random port.

Radicale runs in-process (`radicale.server.serve`) in a background thread,
storing its collections under the test's `tmp_path`, so the `caldav` client
and our tools talk real CalDAV over HTTP: PROPFIND discovery, MKCALENDAR,
PUT, REPORT and DELETE, with Basic authentication.

API (the `caldav_server` fixture yields a started `CalDAVServer` and sets
`settings.CALDAV_URL`, `CALDAV_USERNAME` and `CALDAV_PASSWORD` to it):

- `server.url` -> "http://127.0.0.1:PORT/"; `server.username` / `server.password`
  are the one account in its htpasswd file (plain-text passwords, which
  Radicale accepts for tests). Wrong credentials get HTTP 401.
- `server.client()` -> a `caldav.DAVClient` logged in as that account, for
  tests to look at what the tools left on the server.
- `server.stop()` shuts the server down (idempotent), to test an
  unreachable server; the fixture stops it when the test ends.

Rights are "owner_only": an account sees only collections under its own
principal (/<username>/).
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from caldav.davclient import DAVClient

if TYPE_CHECKING:
    pass

USERNAME = "orchestrate"


def _free_port() -> int:
    """A port that was free a moment ago: `serve()` binds by number, so it cannot be handed port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CalDAVServer:
    def __init__(self, root: Path) -> None:
        from radicale import config

        self.username = USERNAME
        self.password = secrets.token_urlsafe(12)
        self.port = _free_port()
        users = root / "users"
        users.write_text(f"{self.username}:{self.password}\n", encoding="utf-8")
        collections = root / "collections"
        collections.mkdir()
        self.configuration = config.load()
        self.configuration.update(
            {
                "server": {"hosts": f"127.0.0.1:{self.port}", "delay_on_error": "0"},
                "auth": {
                    "type": "htpasswd",
                    "htpasswd_filename": str(users),
                    "htpasswd_encryption": "plain",
                    "delay": "0",  # the default 1 s penalty for a bad password would only slow the tests
                },
                "rights": {"type": "owner_only"},
                "storage": {"filesystem_folder": str(collections)},
            },
            "caldav_server fixture",
        )
        # Closing our end of the pair tells serve() to finish its requests and return.
        self._shutdown, self._server_end = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="caldav-server", daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        from radicale import server

        server.serve(self.configuration, self._server_end)

    def start(self) -> CalDAVServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("caldav_server: Radicale stopped while starting (see the captured log)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"caldav_server: Radicale did not listen on port {self.port} within 10 seconds")

    def stop(self) -> None:
        """Shut the server down; later requests get a connection error."""
        if self._stopped:
            return
        self._stopped = True
        self._shutdown.close()
        self._thread.join(timeout=10)

    def client(self) -> DAVClient:
        return DAVClient(url=self.url, username=self.username, password=self.password, timeout=10)


@pytest.fixture
def caldav_server(settings, tmp_path: Path) -> Iterator[CalDAVServer]:
    """A running Radicale server that the calendar tools are configured to use."""
    root = tmp_path / "radicale"
    root.mkdir()
    server = CalDAVServer(root).start()
    settings.CALDAV_URL = server.url
    settings.CALDAV_USERNAME = server.username
    settings.CALDAV_PASSWORD = server.password
    try:
        yield server
    finally:
        server.stop()
