"""A real OpenAI-compatible HTTP server for tests, on 127.0.0.1 and a random port.

It runs the stdlib `http.server` in a background thread and answers the
two endpoints our code uses, so the official `openai` client is exercised
end to end (HTTP, JSON, error mapping) without a network or a model:

- `POST /v1/chat/completions` returns a `chat.completion` object whose
  `choices[0].message.content` is the next scripted reply, with `usage`.
- `GET /v1/models` lists one model, `test-model`.

API (the `openai_server` fixture yields a `FakeOpenAIServer`):

- `server.base_url` -> "http://127.0.0.1:PORT/v1" (the fixture also sets
  `settings.LLM_BASE_URL` to it and `settings.LLM_API_KEY` to "test-key").
- `server.reply(content, *, prompt_tokens=10, completion_tokens=5, delay=0.0)`
  queues a successful reply; `total_tokens` is the sum. `content` may be a
  str or, as a convenience, any JSON value (dumped with `json.dumps`).
  `delay` seconds are slept before answering (to provoke client timeouts).
- `server.fail(status, message="...", *, error_type=None)` queues an HTTP
  error with an OpenAI-style `{"error": {...}}` body (e.g. 500, 429, 400).
- Replies are used first in, first out, one per chat request. With nothing
  queued the server asks `server.responder(body) -> str` if it is set (a
  model that answers by what it was sent, e.g. per system prompt), then
  answers `server.default_reply` if it is set (a str),
  otherwise HTTP 400 "openai_server: no scripted reply queued", so an
  unexpected call fails loudly and is never retried.
- `server.requests` -> list of `RecordedRequest(method, path, headers, body)`
  for every request received (header names lower-cased, e.g.
  headers["authorization"]; body is the decoded JSON or None);
  `server.chat_requests` -> just the chat completion bodies (dicts with
  "model", "messages", and "response_format" when JSON mode was asked);
  `server.last_chat` -> the latest of those (AssertionError if none).
- `server.pending` -> how many scripted replies are still queued.
- `server.stop()` shuts it down early (to test an unreachable model).

Each test gets a fresh server; it is shut down when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODEL_ID = "test-model"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class _Scripted:
    content: str | None = None
    status: int = 200
    message: str = ""
    error_type: str | None = None
    prompt_tokens: int = 10
    completion_tokens: int = 5
    delay: float = 0.0


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default_reply: str | None = None
        self.responder: Callable[[dict[str, Any]], str] | None = None
        self._queue: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._counter = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._stopped = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="openai-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down (idempotent); later requests get a connection error."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def reply(self, content: Any, *, prompt_tokens: int = 10, completion_tokens: int = 5, delay: float = 0.0) -> None:
        text = content if isinstance(content, str) else json.dumps(content)
        with self._lock:
            self._queue.append(
                _Scripted(content=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, delay=delay)
            )

    def fail(self, status: int, message: str = "Scripted failure", *, error_type: str | None = None) -> None:
        with self._lock:
            self._queue.append(_Scripted(status=status, message=message, error_type=error_type))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if r.path.endswith("/chat/completions") and r.method == "POST"]

    @property
    def last_chat(self) -> dict[str, Any]:
        chats = self.chat_requests
        assert chats, "the OpenAI test server received no chat completion request"
        return chats[-1]

    # Called from the handler thread.
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next(self, body: dict[str, Any]) -> _Scripted:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if self.responder is not None:
                return _Scripted(content=self.responder(body))
            if self.default_reply is not None:
                return _Scripted(content=self.default_reply)
            return _Scripted(status=400, message="openai_server: no scripted reply queued")

    def _completion(self, scripted: _Scripted, model: str) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            number = self._counter
        return {
            "id": f"chatcmpl-test{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": scripted.content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": scripted.prompt_tokens,
                "completion_tokens": scripted.completion_tokens,
                "total_tokens": scripted.prompt_tokens + scripted.completion_tokens,
            },
        }


def _handler_for(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return None

        def _send_json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: Any) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            server._record(RecordedRequest(self.command, self.path, headers, body))

        def do_GET(self) -> None:
            self._record(None)
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "tests"}
                self._send_json(200, {"object": "list", "data": [model]})
            else:
                self._send_json(404, _error(f"No route GET {self.path}", "invalid_request_error"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            self._record(body)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, _error(f"No route POST {self.path}", "invalid_request_error"))
                return
            if not isinstance(body, dict) or "model" not in body or "messages" not in body:
                self._send_json(400, _error("model and messages are required", "invalid_request_error"))
                return
            scripted = server._next(body)
            if scripted.delay:
                time.sleep(scripted.delay)
            if scripted.status != 200:
                kind = scripted.error_type or ("server_error" if scripted.status >= 500 else "invalid_request_error")
                self._send_json(scripted.status, _error(scripted.message, kind))
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                self._send_json(200, server._completion(scripted, str(body["model"])))

    return Handler


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@pytest.fixture
def openai_server(settings: Any) -> Iterator[FakeOpenAIServer]:
    """A running FakeOpenAIServer, with LLM_BASE_URL and LLM_API_KEY pointing at it."""
    server = FakeOpenAIServer().start()
    settings.LLM_BASE_URL = server.base_url
    settings.LLM_API_KEY = "test-key"
    try:
        yield server
    finally:
        server.stop()
