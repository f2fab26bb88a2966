"""Websocket clients in tests: the project's socket stack and a signed-in browser's headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.test import Client

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ORIGIN = (b"origin", b"http://127.0.0.1")


def socket_headers(user: User | None = None, *, client: Client | None = None) -> list[tuple[bytes, bytes]]:
    """What a browser on the site sends when it opens a websocket: its origin and, signed in, its session.

    The session is `client`'s when given (a test client already logged in), else a new
    one for `user`: one client per user, as a second login on a client ends the first session.
    """
    headers = [ORIGIN, (b"host", b"127.0.0.1")]
    if user is not None and client is None:
        client = Client()
        client.force_login(user)
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def socket_stack() -> Any:
    """The websocket half of config.asgi (origin check, session auth, routes), built here:
    importing config.asgi in the embedded mode would start the server's sweeper thread in the
    test process for the rest of the session."""
    from config.routing import websocket_application

    return websocket_application()
