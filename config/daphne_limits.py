"""The body limits inside daphne, which has no setting of its own for them.

Daphne (through Twisted) reads a request's whole body into a temporary file
and then queues all of it for the application in memory: one anonymous
200 MB POST took a server from 132 MB to 2.4 GB. `BoundedWebRequest`
decides as soon as the headers are in: a declared length over the limit is
answered 413 and the connection closed without reading a byte of the body;
a body with no declared length (chunked) is cut off the moment it passes the
limit. Here a request counts as signed in when it carries a session cookie
or an `Authorization: Bearer` token (an API client's upload);
`config.body_limits.BodyLimitMiddleware` then checks the session or the
token is real, so a made-up one gets no more than an anonymous request.
It also stops Twisted parsing form bodies that nobody reads.

`install()` swaps the request class daphne's HTTP factory builds; it is
called from `config/asgi.py`, which daphne imports before it starts
listening, so `make run` and a plain `daphne config.asgi:application` both
get it.
"""

from __future__ import annotations

import logging

from daphne import http_protocol
from django.conf import settings

from api.auth import bearer_secret
from config.body_limits import limits, refusal_text

logger = logging.getLogger(__name__)


class BoundedWebRequest(http_protocol.WebRequest):
    _limit = 0
    _received = 0
    _refused = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Twisted would otherwise read a whole multipart or form body into memory
        # and parse it into `args`, which daphne never uses (Django parses it again,
        # streaming files to disk): several times an upload's size, for nothing.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length: int | None) -> None:
        most, anonymous = limits()
        self._limit = most if self._may_be_signed_in() else anonymous
        if length is not None and length > self._limit:
            super().gotLength(0)  # an empty body buffer: nothing of this body will be kept
            self._refuse()
            return
        super().gotLength(length)

    def _may_be_signed_in(self) -> bool:
        """A session cookie or a bearer token: checked for real by the middleware, off the reactor."""
        if settings.SESSION_COOKIE_NAME.encode() in self.received_cookies:
            return True
        authorization = self.requestHeaders.getRawHeaders(b"authorization") or []
        return any(bearer_secret(value) is not None for value in authorization)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        if self._received > self._limit:
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return
        super().requestReceived(command, path, version)

    def _refuse(self) -> None:
        self._refused = True
        # No "100 Continue": a client that waits for it never sends the body at all.
        self.requestHeaders.removeHeader(b"expect")
        text = refusal_text(self._limit)
        head = (
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(text)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        logger.info("refused a request body over %d bytes from %s", self._limit, self.getClientAddress())
        transport = self.channel.transport
        if transport is not None:
            transport.write(head + text)
            transport.loseConnection()


def install() -> None:
    http_protocol.WebRequest = BoundedWebRequest
