"""An HTTP client for MCP servers that can only reach what the SSRF guard allows.

The SDK talks streamable HTTP through an `httpx2.AsyncClient`; this one's
connections are opened by a network backend that resolves the host with
`tools.ssrf.resolve_public` and connects to exactly the addresses it
checked, so neither the URL nor a second DNS answer can point it at this
host's own network (WEB_ALLOWED_HOSTS lists the internal hosts allowed).
TLS still verifies the name. Environment proxies are ignored: a proxy would
connect on our behalf to addresses nobody checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio.to_thread
import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream

from tools.ssrf import resolve_public


class GuardedBackend(AsyncNetworkBackend):
    """Connects only to addresses `resolve_public` let through for the host."""

    def __init__(self) -> None:
        self._inner: AsyncNetworkBackend = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await anyio.to_thread.run_sync(resolve_public, host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolve_public returns at least one address or raises
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # The pool the parent built, with our backend: httpx2 takes no backend argument of its own.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(),
        )


def guarded_client(headers: dict[str, str], timeout: float, refusals: list[int]) -> httpx2.AsyncClient:
    """The client the SDK's streamable-HTTP transport uses for one connection to a server.

    The status of every refused request (4xx, 5xx) is appended to `refusals`: the SDK reports
    them all as "an error response", and a person needs to know a 401 from a 500.
    """

    async def note(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            refusals.append(response.status_code)

    return httpx2.AsyncClient(
        transport=GuardedTransport(),
        headers=headers,
        timeout=httpx2.Timeout(timeout),
        trust_env=False,
        follow_redirects=False,
        event_hooks={"response": [note]},
    )
