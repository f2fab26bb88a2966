"""Request bodies are bounded, and an oversize one is refused before it is read.

Two limits (settings `ORCHESTRATE_MAX_BODY_BYTES` and
`ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES`): a request from a signed-in user, or
one carrying a live API token (`Authorization: Bearer orc_...`), may carry up
to the first (uploads), every other request up to the second (the login
form, signed webhooks). Two layers enforce them:

- `BodyLimitMiddleware`, the outermost ASGI layer, which works under any
  ASGI server: a declared Content-Length over the limit gets 413 before the
  application asks for a single byte; a body without a length (chunked) or
  one longer than it said is cut off the moment it passes the limit. Whether
  the request is signed in is only asked (one session or token lookup) when a
  body is larger than the anonymous limit.
- `config.daphne_limits`, in daphne itself, which otherwise reads the whole
  body into a temporary file and hands all of it to the application at once
  (in memory). It refuses as soon as the headers are in, so nothing of the
  body is read; there a request counts as signed in when it carries a
  session cookie or a bearer token, and the middleware then checks that the
  session or the token is real (an invalid one gets the anonymous limit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model

from api.auth import bearer_is_valid

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limits() -> tuple[int, int]:
    """(signed-in limit, anonymous limit) in bytes."""
    signed_in = settings.ORCHESTRATE_MAX_BODY_BYTES
    return signed_in, min(settings.ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES, signed_in)


def refusal_text(limit: int) -> bytes:
    anonymous = limits()[1]
    hint = " Sign in to send more." if limit <= anonymous < limits()[0] else ""
    return f"Request body too large: this server accepts at most {limit} bytes here.{hint}\n".encode()


def session_cookie(cookie_header: str) -> str | None:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:  # a malformed Cookie header is simply no session
        return None
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


async def signed_in(session_key: str | None) -> bool:
    """Whether the session belongs to an active user (what decides the larger limit)."""
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user_id = await store.aget(SESSION_KEY)
    if user_id is None:
        return False
    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(user_id)
    except Exception:
        return False
    return await model._default_manager.filter(pk=pk, is_active=True).aexists()


async def authorised(session_key: str | None, authorization: bytes) -> bool:
    """Whether the request may send the larger body: a real session, or a live API token."""
    if authorization and await bearer_is_valid(authorization):
        return True
    return await signed_in(session_key)


async def _respond(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        most, anonymous = limits()
        declared: int | None = None
        cookies: list[str] = []
        authorization = b""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _respond(send, 400, b"Bad Content-Length header.\n")
                    return
                if declared < 0:
                    await _respond(send, 400, b"Bad Content-Length header.\n")
                    return
            elif name == b"cookie":
                cookies.append(value.decode("latin-1"))
            elif name == b"authorization":
                authorization = value
        cookie_header = "; ".join(cookies)
        if declared is not None and declared > most:
            await _respond(send, 413, refusal_text(most))
            return
        limit = anonymous
        if declared is not None and declared > anonymous:
            if not await authorised(session_cookie(cookie_header), authorization):
                await _respond(send, 413, refusal_text(anonymous))
                return
            limit = most

        received = 0
        over: int | None = None
        decided = declared is not None and declared > anonymous
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, over, limit, decided
            if over is not None:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not decided:
                    decided = True
                    if await authorised(session_cookie(cookie_header), authorization):
                        limit = most
                if received > limit:
                    # The application sees the client go away and stops; we answer for it.
                    over = limit
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, bounded_receive, tracked_send)
        if over is not None and not started:
            await _respond(send, 413, refusal_text(over))
