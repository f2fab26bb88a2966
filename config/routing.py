"""Websocket URL patterns of every app, the router that serves them, and the origin check before it."""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddleware
from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.http.request import validate_host

from config.consumers import UnknownPathConsumer
from orchestration.routing import websocket_urlpatterns as orchestration_patterns
from safety.routing import websocket_urlpatterns as safety_patterns

websocket_urlpatterns: list[Any] = [*orchestration_patterns, *safety_patterns]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class Router(URLRouter):
    """The apps' routes; a path none of them serves is accepted and closed with 4404, not a server error."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        try:
            return await super().__call__(scope, receive, send)
        except ValueError as exc:
            if not str(exc).startswith("No route found for path"):
                raise
            return await UnknownPathConsumer.as_asgi()(scope, receive, send)


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname.lower(), port


def same_origin(scope: dict[str, Any], origin: str) -> bool:
    """Whether a websocket's Origin is the page's own origin: scheme, host and port all equal.

    The page's origin is the one the connection itself was made to (its Host
    header, http for ws and https for wss), whose host must also be allowed;
    an origin listed in CSRF_TRUSTED_ORIGINS (a proxy that ends TLS in front
    of the server) is accepted as written.
    """
    given = urlsplit(origin)
    claimed = _origin(given.scheme, given.netloc) if given.scheme in ("http", "https") else None
    if claimed is None:
        return False
    if any(claimed == _origin(*_split(trusted)) for trusted in settings.CSRF_TRUSTED_ORIGINS):
        return True
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        # No Host header (not a browser): the origin's host alone must be allowed.
        return validate_host(claimed[1], settings.ALLOWED_HOSTS)
    own_scheme = "https" if scope.get("scheme") == "wss" else "http"
    own = _origin(own_scheme, host)
    return own is not None and validate_host(own[1], settings.ALLOWED_HOSTS) and claimed == own


def _split(origin: str) -> tuple[str, str]:
    parts = urlsplit(origin)
    return parts.scheme, parts.netloc


class SameOriginValidator:
    """In place of Channels' AllowedHostsOriginValidator, which compares the host alone:
    a websocket whose Origin is not the page's own (scheme, host and port) is denied."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        if scope["type"] == "websocket" and not (origin and same_origin(scope, origin)):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


class WebsocketSessionMiddleware:
    """The session the websocket's cookie names, for AuthMiddleware to find the user in; read, never saved.

    Channels' SessionMiddleware also wraps every send of the connection, to
    save a changed session with an HTTP response. A websocket's messages
    carry no cookie and our consumers never change the session, and the
    wrapper's checks were a tenth of sending a frame to each open page.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        session = store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))  # loaded on first read, in a thread
        return await self.application({**scope, "session": session}, receive, send)


def websocket_application() -> Any:
    """The websocket half of the ASGI app: origin check, session user, the apps' routes."""
    signed_in = CookieMiddleware(WebsocketSessionMiddleware(AuthMiddleware(Router(websocket_urlpatterns))))
    return SameOriginValidator(signed_in)
