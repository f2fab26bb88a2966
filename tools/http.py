"""The HTTP client of the tools, behind the SSRF guard of `tools.ssrf`.

`fetch(...)` connects to exactly the addresses that were checked, so a
second, different DNS answer cannot redirect it (DNS rebinding); the Host
header, TLS SNI and certificate check still use the name. It follows
redirects itself, checking every hop the same way.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

from monitoring.tracing import is_secret_key
from tools.base import RetryableToolError, ToolError, ToolInputError
from tools.ssrf import IPAddress, Target, parse_url, resolve_public

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Orchestrate/1 (web tools)"
_CHUNK = 64 * 1024
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")


@dataclass
class Response:
    url: str  # the final URL, after redirects
    status: int
    headers: dict[str, str]  # names in lower case; repeated headers joined with ", "
    content: bytes
    redirects: list[str] = field(default_factory=list)  # each redirect's target, in order

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def fetch(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """One HTTP exchange with a public host, following redirects (each hop checked like the first).

    A 4xx answer is returned, not raised: it is a result the caller may act
    on (the step succeeds and reports the status). 5xx answers, timeouts and
    connection failures raise RetryableToolError; a refused address raises
    BlockedAddress; a body over `max_bytes` raises ToolError. `timeout`
    bounds the whole exchange, redirects included. `ssl_context` replaces
    the default (system CAs) context, e.g. to trust a private CA.
    """
    deadline = time.monotonic() + timeout
    target = parse_url(url)
    sent_headers = {"User-Agent": USER_AGENT, **_checked_headers(headers or {})}
    redirects: list[str] = []
    while True:
        status, received, content = _exchange(method, target, sent_headers, body, deadline, max_bytes, ssl_context)
        location = received.get("location")
        if status in REDIRECT_STATUSES and location:
            if len(redirects) >= max_redirects:
                raise ToolError(f"Too many redirects (more than {max_redirects}) fetching {url!r}.")
            next_target = parse_url(urljoin(target.url, location))
            if status == 303 or (status in (301, 302) and method == "POST"):
                # As browsers do: the redirected request is a GET, without the body.
                method, body = "GET", None
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "content-type"}
            if next_target.origin() != target.origin():
                # Credentials were meant for the first host, not wherever it points to.
                sent_headers = {k: v for k, v in sent_headers.items() if not is_secret_key(k)}
            redirects.append(next_target.url)
            target = next_target
            continue
        if status >= 500:
            raise RetryableToolError(f"{target.url} answered HTTP {status}.")
        return Response(url=target.url, status=status, headers=received, content=content, redirects=redirects)


def _checked_headers(headers: dict[str, str]) -> dict[str, str]:
    """The caller's headers, refused up front if malformed (a line break would smuggle in another header)."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or not isinstance(value, str) or _BAD_HEADER_VALUE.search(value):
            raise ToolInputError(f"Not a valid HTTP header: {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise ToolInputError(f"The {name} header is set by the web tools and cannot be given.")
    return dict(headers)


def _exchange(
    method: str,
    target: Target,
    headers: dict[str, str],
    body: bytes | None,
    deadline: float,
    max_bytes: int,
    ssl_context: ssl.SSLContext | None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request to the checked addresses of `target`; the body is not read for redirects."""
    addresses = resolve_public(target.host, target.port)
    connection: _PinnedHTTPConnection | _PinnedHTTPSConnection | None = None
    try:
        if target.scheme == "https":
            connection = _PinnedHTTPSConnection(target.host, target.port, addresses, deadline, ssl_context)
        else:
            connection = _PinnedHTTPConnection(target.host, target.port, addresses, deadline)
        connection.request(method, target.path, body=body, headers=headers)
        response = connection.getresponse()
        received: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            received[key] = f"{received[key]}, {value}" if key in received else value
        if response.status in REDIRECT_STATUSES and "location" in received:
            return response.status, received, b""
        return response.status, received, _read_body(response, connection, deadline, max_bytes, target.url)
    except ToolError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise ToolError(f"The TLS certificate of {target.host} could not be verified: {exc.verify_message}.") from None
    except TimeoutError:
        raise RetryableToolError(f"{target.url} did not answer in time.") from None
    except http.client.InvalidURL as exc:
        raise ToolInputError(f"Cannot send this request to {target.url}: {exc}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # ValueError: e.g. a malformed chunked body
        raise RetryableToolError(f"Could not fetch {target.url}: {exc or type(exc).__name__}") from None
    finally:
        if connection is not None:
            connection.close()


def _read_body(
    response: http.client.HTTPResponse, connection: _Pinned, deadline: float, max_bytes: int, url: str
) -> bytes:
    """The body, in chunks, each read bounded by the deadline; stops as soon as it exceeds `max_bytes`."""
    too_large = ToolError(f"The response is larger than {max_bytes} bytes: {url}")
    length = response.getheader("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    while True:
        connection.pinned_socket().settimeout(_remaining(deadline))
        chunk = response.read1(_CHUNK)  # read1: one recv at most, so a slow sender cannot outstay the deadline
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise too_large
        chunks.append(chunk)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


class _Pinned:
    """Connects to checked addresses only: the name is never resolved again, so its answer cannot change."""

    _addresses: list[IPAddress]
    _deadline: float
    _socket: socket.socket | None = None

    def _connect_pinned(self, port: int) -> socket.socket:
        error: OSError = OSError("no address to connect to")
        for ip in self._addresses:
            sock = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.settimeout(_remaining(self._deadline))
                sock.connect((str(ip), port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error

    def pinned_socket(self) -> socket.socket:
        """The socket the response is read from (http.client drops its own reference once a reply says close)."""
        assert self._socket is not None
        return self._socket


class _PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[IPAddress], deadline: float) -> None:
        super().__init__(host, port, timeout=_remaining(deadline))
        self._addresses, self._deadline = addresses, deadline

    def connect(self) -> None:
        self.sock = self._socket = self._connect_pinned(self.port)


class _PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, addresses: list[IPAddress], deadline: float, context: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=_remaining(deadline), context=context or ssl.create_default_context())
        self._addresses, self._deadline = addresses, deadline

    def connect(self) -> None:
        sock = self._connect_pinned(self.port)
        try:
            # SNI and certificate checks are for the name in the URL, not the address we connected to.
            self.sock = self._socket = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
        except BaseException:
            sock.close()
            raise
