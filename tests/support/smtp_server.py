"""A real SMTP server for tests (aiosmtpd), on 127.0.0.1 and a random free port.

The mail code runs end to end (Django's SMTP backend, smtplib, the wire
protocol, MIME) and every message the server accepts is kept for asserts.

API (the `smtp_server` fixture yields an `SMTPTestServer`):

- `server.host`, `server.port`, `server.url` -> "smtp://127.0.0.1:PORT".
- `server.messages` -> list of `ReceivedMessage(mail_from, rcpt_tos,
  message)`, where `message` is an `email.message.EmailMessage` parsed
  with `email.policy.default` (so `message["Subject"]`,
  `message.get_body(("plain",)).get_content()`, `message.iter_attachments()`).
- `server.wait_for_messages(n, timeout=5.0)` -> every message received so
  far, once at least n have arrived (so `[only] = wait_for_messages(1)`
  also checks that no second one came); AssertionError naming what did
  arrive on timeout. The server records a message before it answers 250,
  so after a synchronous send returns the message is already there.
- `server.refuse(address, code=550, text="No such user here")` makes the
  server answer RCPT TO for that address with the given reply (a 4xx code
  for a transient refusal); `server.reject_data(code, text)` makes it
  answer DATA with that reply, for every following message;
  `server.accept_data()` takes that back.
- `server.before_reply = callable(received)` runs after a message is
  recorded and before the server answers 250 (a crash test kills the
  sending worker there: the server has the message, the sender never
  heard so); `server.at_rcpt = callable(address)` runs when RCPT TO
  arrives, before any message was handed over.
- `server.stop()` shuts it down early (to test an unreachable server).

The fixture points Django at the server through pytest-django's `settings`
fixture: EMAIL_BACKEND is set back to the SMTP backend (pytest-django
swaps in locmem for the session), with EMAIL_HOST/PORT, no TLS/SSL and no
login. That holds for this process, worker threads included. Worker
*processes* (Celery) read settings from their own environment: start them
with EMAIL_URL=smtp://127.0.0.1:<port> (`server.url`) to send here.

Each test gets a fresh server; it is stopped when the test ends.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


def free_port() -> int:
    """A port nothing listens on right now (also used by tests for an unreachable server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class _Handler:
    """aiosmtpd handler: applies scripted refusals and records accepted messages."""

    def __init__(self, server: SMTPTestServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self.server.at_rcpt is not None:
            self.server.at_rcpt(address)
        refusal = self.server._refusals.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server._data_reply:
            return self.server._data_reply
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        received = ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), parsed)
        self.server._record(received)
        if self.server.before_reply is not None:
            self.server.before_reply(received)
        return "250 Message accepted for delivery"


class SMTPTestServer:
    def __init__(self) -> None:
        self.host = HOST
        self.messages: list[ReceivedMessage] = []
        self._refusals: dict[str, str] = {}
        self._data_reply: str | None = None
        self.before_reply: Callable[[ReceivedMessage], None] | None = None
        self.at_rcpt: Callable[[str], None] | None = None
        self._arrived = threading.Condition()
        self.port = free_port()
        self._controller: Controller | None = Controller(_Handler(self), hostname=self.host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        assert self._controller is not None
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, code: int = 550, text: str = "No such user here") -> None:
        self._refusals[address.lower()] = f"{code} {text}"

    def reject_data(self, code: int, text: str) -> None:
        self._data_reply = f"{code} {text}"

    def accept_data(self) -> None:
        self._data_reply = None

    def _record(self, message: ReceivedMessage) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [m.message["Subject"] for m in self.messages]
                    raise AssertionError(f"Expected {n} message(s) within {timeout}s, got {subjects}")
                self._arrived.wait(left)
            return list(self.messages)


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SMTPTestServer]:
    server = SMTPTestServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server
    finally:
        server.stop()
