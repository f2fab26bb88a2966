"""Real HTTP(S) servers on loopback for the web tools' tests, and the resolver switch.

The servers record every request they receive, so a test can check that a
refusal means "nothing was sent". `dns` replaces `socket.getaddrinfo` (the
stdlib resolver, not our code) so a name can resolve to a chosen address.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class LocalServer:
    """A threaded http.server on a loopback address and a random (or given) port, recording requests.

    Paths: /text, /json, /status/<code>, /redirect?to=<url>&code=<3xx>, /loop,
    /big?n=<bytes>[&stream=1] (stream: no Content-Length), /slow?s=<seconds>,
    /echo (the request as JSON). TLS when given a server-side SSL context.
    `before_answer(recorded)`, when set, runs after a request is recorded and
    before it is answered (a crash test kills the client there).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self.before_answer: Callable[[Recorded], None] | None = None

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that time out or are refused mid-answer are what some tests are about

        self.httpd = Server((host, port), _handler_for(self))
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str | None = None, scheme: str = "http") -> str:
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            recorded = Recorded(self.command, self.path, headers, body)
            server.requests.append(recorded)
            if server.before_answer is not None:
                server.before_answer(recorded)
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            path = parts.path
            if path == "/text":
                self._send(200, b"hello, world", "text/plain; charset=utf-8")
            elif path == "/json":
                self._send(200, b'{"answer": 42}', "application/json")
            elif path.startswith("/status/"):
                code = int(path.rsplit("/", 1)[1])
                self._send(code, f"status {code}".encode(), "text/plain")
            elif path == "/redirect":
                self._send(int(query.get("code", 302)), b"", "text/plain", location=query["to"])
            elif path == "/loop":
                self._send(302, b"", "text/plain", location="/loop")
            elif path == "/big":
                self._send(200, b"x" * int(query["n"]), "text/plain", length="stream" not in query)
            elif path == "/slow":
                time.sleep(float(query["s"]))
                self._send(200, b"late", "text/plain")
            elif path == "/echo":
                echo = {"method": self.command, "headers": headers, "body": body.decode()}
                self._send(200, json.dumps(echo).encode(), "application/json")
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str, location: str = "", length: bool = True) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            if location:
                self.send_header("Location", location)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    yield local
    local.stop()


@pytest.fixture
def other_server() -> Iterator[LocalServer]:
    local = LocalServer()
    yield local
    local.stop()


@pytest.fixture
def server6(server: LocalServer) -> Iterator[LocalServer | None]:
    """A server on [::1] and the same port as `server`, so IPv6 forms of a refused URL would reach one of them."""
    try:
        local = LocalServer("::1", server.port)
    except OSError:
        yield None  # no IPv6 loopback here: the refusal is still checked, against `server`
        return
    yield local
    local.stop()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Answers for chosen names (a list of addresses, or a function returning one); others resolve for real."""
    answers: dict[str, Any] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        answer = answers[host]
        addresses: list[str] = answer() if callable(answer) else answer
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def web_settings(settings: Any) -> Any:
    settings.WEB_ALLOWED_HOSTS = []
    settings.WEB_TIMEOUT = 5.0
    settings.WEB_MAX_BYTES = 1024 * 1024
    settings.WEB_MAX_REDIRECTS = 5
    return settings


@pytest.fixture
def allowed(web_settings: Any) -> Any:
    """The loopback test servers (127.0.0.1) allow-listed by address."""
    web_settings.WEB_ALLOWED_HOSTS = ["127.0.0.1"]
    return web_settings


def _self_signed(name: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_server(tmp_path: Any) -> Iterator[tuple[LocalServer, bytes, list[str]]]:
    cert, key = _self_signed("secure.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server_names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name) and None  # type: ignore[func-returns-value]
    local = LocalServer(tls=context)
    yield local, cert, server_names
    local.stop()
