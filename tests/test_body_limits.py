"""Request bodies are bounded: an oversize body is refused with 413 before it is read.

Against a real daphne (what `make run` serves) and against the ASGI
application in this process: anonymous requests get the small limit,
signed-in ones the larger (uploads), and a forged session cookie gets
nothing more than an anonymous request.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from config.body_limits import BodyLimitMiddleware

ROOT = Path(__file__).resolve().parent.parent
FIFTY_MB = 50 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


_servers: dict[int, dict[str, str]] = {}  # port -> the environment of the server's process


@pytest.fixture(scope="module")
def daphne_server(tmp_path_factory):
    """`manage.py serve` on a fresh data directory: migrate, bootstrap, daphne."""
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(var), "ORCHESTRATE_EMBEDDED_SWEEPER": "false"}
    environment.pop("DATABASE_URL", None)
    environment.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Listening on TCP address" in line or process.poll() is not None:
            break
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep its pipe drained
    try:
        assert process.poll() is None, "".join(lines)
        _servers[port] = environment
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _head(path: str, length: int, *, chunked: bool = False, cookie: str = "") -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=xyz",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_status(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_it_refuses_a_50_mb_anonymous_post_before_reading_any_of_it(daphne_server):
    port, _ = daphne_server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head("/orchestrate/upload/", FIFTY_MB))
        # Not one byte of the body has been sent: the answer comes from the headers alone.
        assert _read_status(sock).startswith(b"HTTP/1.1 413")


def test_it_refuses_a_forged_session_cookie_as_anonymous(daphne_server):
    """Daphne lets a request with a session cookie send up to the larger limit; the middleware
    finds no such session and answers 413 before Django reads the body."""
    port, _ = daphne_server
    size = 5 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head("/orchestrate/upload/", size, cookie="sessionid=forged-session-key"))
        sock.sendall(b"z" * size)
        assert _read_status(sock).startswith(b"HTTP/1.1 413")


def test_it_cuts_off_a_chunked_anonymous_body_past_the_limit(daphne_server):
    port, _ = daphne_server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head("/accounts/login/", 0, chunked=True))
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < FIFTY_MB:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:  # the server closed the connection: what we want
            pass
        # Only what the kernel buffers got through (a few MB on loopback), not the 50 MB.
        assert sent < FIFTY_MB / 3
        assert _read_status(sock).startswith(b"HTTP/1.1 413")


def test_it_keeps_the_servers_memory_flat_when_a_client_sends_50_mb_anyway(daphne_server):
    port, pid = daphne_server
    before = _peak_rss_kb(pid)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(_head("/orchestrate/upload/", FIFTY_MB))
            block = b"y" * (1024 * 1024)
            try:
                for _ in range(50):
                    sock.sendall(block)
            except OSError:
                pass
    time.sleep(0.5)
    grown_mb = (_peak_rss_kb(pid) - before) / 1024
    print(f"peak RSS growth after three 50 MB anonymous POSTs: {grown_mb:.1f} MB")
    assert grown_mb < 10, f"the server's peak memory grew by {grown_mb:.1f} MB"


@pytest.fixture(scope="module")
def api_token(daphne_server):
    """A live API token of the served instance's admin (made in its database), and their workspace's id."""
    port, _ = daphne_server
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from tenancy.bootstrap import ensure_demo_setup\n"
        "from tenancy.models import Workspace\n"
        "from tenancy.tokens import create_token\n"
        "user = get_user_model().objects.get(username=ensure_demo_setup().username)\n"
        "print(create_token(user, 'uploads').secret, Workspace.objects.for_user(user).first().pk)\n"
    )
    shell = [sys.executable, "manage.py", "shell", "-c", code]
    done = subprocess.run(shell, cwd=ROOT, env=_servers[port], capture_output=True, text=True, check=True)
    secret, workspace_id = done.stdout.split()[-2:]
    return secret, workspace_id


def _upload(port: int, workspace_id: str, token: str, size: int) -> tuple[int, bytes]:
    """A multipart upload of `size` bytes to the API's drive, as an API client sends it."""
    body = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"u" * size + b"\r\n--xyz--\r\n"
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            f"/api/v1/workspaces/{workspace_id}/files/",
            body=body,
            headers={"Content-Type": "multipart/form-data; boundary=xyz", "Authorization": f"Bearer {token}"},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_it_lets_an_api_token_upload_past_the_anonymous_limit(daphne_server, api_token):
    port, _ = daphne_server
    secret, workspace_id = api_token
    size = 3 * settings.ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES

    status, body = _upload(port, workspace_id, secret, size)

    assert status == 201, body
    assert json.loads(body)["size"] == size


def test_it_gives_an_invalid_api_token_the_anonymous_limit(daphne_server, api_token):
    port, _ = daphne_server
    _, workspace_id = api_token
    size = 3 * settings.ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES

    status, body = _upload(port, workspace_id, "orc_" + "x" * 43, size)

    assert status == 413, body
    assert b"at most" in body


# The middleware under any ASGI server, on the real Django application.


class _App:
    """Records whether the application asked for the body."""

    def __init__(self) -> None:
        self.read = False

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            self.read = True
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def _call(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes]:
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    async_to_sync(BodyLimitMiddleware(app))(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.fixture
def session_cookie(alice, client):
    client.force_login(alice)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@pytest.mark.django_db(transaction=True)
def test_it_answers_413_to_an_anonymous_declared_length_without_asking_for_the_body():
    app = _App()
    length = settings.ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES + 1
    status, text = _call(app, [(b"content-length", str(length).encode())], [b"x" * length])
    assert status == 413
    assert b"at most" in text
    assert not app.read


@pytest.mark.django_db(transaction=True)
def test_it_lets_a_signed_in_user_send_more_but_not_past_the_server_limit(session_cookie):
    length = settings.ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES * 2
    app = _App()
    headers = [(b"content-length", str(length).encode()), (b"cookie", session_cookie)]
    assert _call(app, headers, [b"x" * length]) == (200, str(length).encode())
    app = _App()
    too_much = settings.ORCHESTRATE_MAX_BODY_BYTES + 1
    status, _ = _call(app, [(b"content-length", str(too_much).encode()), (b"cookie", session_cookie)], [b""])
    assert status == 413
    assert not app.read


@pytest.mark.django_db(transaction=True)
def test_it_cuts_off_a_body_longer_than_it_said_or_without_a_length():
    limit = settings.ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES
    piece = b"x" * (limit // 2 + 1)
    app = _App()
    assert _call(app, [], [piece, piece, piece])[0] == 413
    app = _App()
    assert _call(app, [(b"content-length", b"10")], [piece, piece, piece])[0] == 413
    app = _App()
    assert _call(app, [], [b"small"]) == (200, b"5")
