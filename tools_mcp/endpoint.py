"""The ASGI endpoint of Orchestrate's MCP server: `/mcp/<workspace id>/`, streamable HTTP.

Requests under /mcp/ are answered here rather than by Django (config/asgi.py
routes them), inside the same request-body limit. Each must carry a personal
API token (`Authorization: Bearer orc_...`) of a member of the workspace in
the URL; without one the answer is 401, and a workspace the token's user is
not in is a 404, as if it did not exist; past the REST API's request limit
per token (API_RATE_LIMIT) it is a 429. The host is checked against
ALLOWED_HOSTS like any request. The SDK's session manager runs stateless
(every POST stands alone, answered with JSON), so any server process can
answer any request; it is started on the first request, since daphne sends
no lifespan events. The SDK and the server built on it are imported then
too: they were three quarters of a server process's start (0.74 of 0.99 s
importing `config.asgi`), for an endpoint most installations never call.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from rest_framework.throttling import SimpleRateThrottle

from config.body_limits import limits
from tenancy.access import role_of
from tenancy.tokens import authenticate
from tools_mcp.callers import SCOPE_KEY, Caller

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PREFIX = "/mcp/"
_PATH = re.compile(r"^/mcp/(?P<workspace>[0-9a-fA-F-]{36})/?$")


class TokenThrottle(SimpleRateThrottle):
    """The REST API's request limit (API_RATE_LIMIT), counted per token for this endpoint."""

    scope = "token"

    def __init__(self, token_id: uuid.UUID) -> None:
        super().__init__()
        self.token_id = token_id

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": "mcp", "ident": f"token:{self.token_id}"}


def identify(secret: str, workspace_id: uuid.UUID) -> tuple[Caller | None, int]:
    """The caller for a token in a workspace, or None and the status to answer (401, 404, 429)."""
    token = authenticate(secret)
    if token is None:
        return None, 401
    if role_of(token.user, workspace_id) is None:
        return None, 404
    if not TokenThrottle(token.pk).allow_request(None, None):  # type: ignore[arg-type]  # keyed by the token alone
        return None, 429
    return Caller(user_id=token.user.pk, workspace_id=workspace_id), 200


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if kind.lower() in ("bearer", "token") and secret.strip() else None
    return None


def _host_allowed(scope: dict[str, Any]) -> bool:
    host = next((value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"host"), "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


async def _answer(send: Any, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class McpEndpoint:
    def __init__(self) -> None:
        self._manager: StreamableHTTPSessionManager | None = None
        self._starting = asyncio.Lock()
        self._holder: asyncio.Task[None] | None = None

    async def _started(self) -> StreamableHTTPSessionManager:
        async with self._starting:
            if self._manager is None:
                from mcp.server.transport_security import TransportSecuritySettings

                from tools_mcp.server import build_server

                server = build_server()
                server.streamable_http_app(
                    json_response=True,
                    stateless_http=True,
                    max_request_body_size=limits()[1],
                    # The host is checked above against ALLOWED_HOSTS, the installation's own list.
                    transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
                )
                manager = server.session_manager
                ready = asyncio.Event()

                async def hold() -> None:
                    async with manager.run():
                        ready.set()
                        await asyncio.Event().wait()  # for the life of the process

                self._holder = asyncio.get_running_loop().create_task(hold())
                await ready.wait()
                self._manager = manager
        return self._manager

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = _PATH.match(scope["path"])
        if match is None:
            await _answer(send, 404, "The MCP endpoint is /mcp/<workspace id>/.")
            return
        if not _host_allowed(scope):
            await _answer(send, 400, "Bad request (host not allowed).")
            return
        try:
            workspace_id = uuid.UUID(match["workspace"])
        except ValueError:
            await _answer(send, 404, "No such workspace.")
            return
        secret = _bearer(scope)
        caller, status = (None, 401) if secret is None else await sync_to_async(identify)(secret, workspace_id)
        if caller is None:
            if status == 401:
                challenge = [(b"www-authenticate", b'Bearer realm="orchestrate-mcp"')]
                await _answer(send, 401, "Send a personal API token: Authorization: Bearer orc_...", challenge)
            elif status == 429:
                await _answer(send, 429, f"Too many requests for this token (limit {settings.API_RATE_LIMIT}).")
            else:
                await _answer(send, 404, "No such workspace.")
            return
        manager = await self._started()
        await manager.handle_request({**scope, SCOPE_KEY: caller}, receive, send)


endpoint = McpEndpoint()


def route(django_app: Any) -> Any:
    """The HTTP application: /mcp/... here, everything else to Django."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await endpoint(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return app
