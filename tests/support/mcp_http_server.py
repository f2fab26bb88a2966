"""A real streamable-HTTP MCP server for tests, built with the SDK's own server classes.

Run as a separate process (`python -m tests.support.mcp_http_server
[API_KEY]`) by the `mcp_http_server` fixture. It binds a free port itself
and prints it: a port chosen by the test and bound later could be taken
meanwhile by another test's server, whose 404 then failed the test. Tools:

- `add(a, b)`: the sum (marked read-only, so its form pre-fills "safe");
- `search_notes(query)`: "Search the notes files", a capability the rule planner knows;
- `record(text)`: appends the text to the file named by MCP_TEST_RECORD, a side effect a test can see;
- `die()`: the server process exits in the middle of the call;
- `slow(seconds)`: answers after a while.

With an API key, every request must carry `X-Api-Key: <key>` (checked by a
small ASGI wrapper) or gets 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations

# Run as a module on its own (no Django), so it finds the project from here.
ROOT = Path(__file__).resolve().parents[2]


def build() -> MCPServer:
    server = MCPServer(name="test-notes")

    @server.tool(description="Add two integers.", annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int) -> str:
        return str(a + b)

    @server.tool(description="Search the notes files for a word.", annotations=ToolAnnotations(read_only_hint=True))
    def search_notes(query: str) -> str:
        return f"2 notes mention {query}"

    @server.tool(description="Record a line of text (a side effect).")
    def record(text: str) -> str:
        with open(os.environ["MCP_TEST_RECORD"], "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
        return f"recorded {text}"

    @server.tool(description="Exit the server process in the middle of the call.")
    async def die() -> str:
        await asyncio.sleep(0.2)
        os._exit(3)

    @server.tool(description="Answer after some seconds.")
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    return server


def app(api_key: str | None) -> Any:
    inner = build().streamable_http_app(
        json_response=True,
        stateless_http=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and api_key is not None and (b"x-api-key", api_key.encode()) not in scope["headers"]:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await inner(scope, receive, send)

    return guarded


@dataclass
class McpHttpServer:
    url: str
    process: subprocess.Popen[str]
    record: str

    def recorded(self) -> list[str]:
        with contextlib.suppress(FileNotFoundError), open(self.record, encoding="utf-8") as handle:
            return handle.read().splitlines()
        return []


@contextlib.contextmanager
def running(tmp_path: Any, api_key: str | None = None) -> Iterator[McpHttpServer]:
    record = str(tmp_path / "recorded.txt")
    command = [sys.executable, "-m", "tests.support.mcp_http_server", *([api_key] if api_key else [])]
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "MCP_TEST_RECORD": record}, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        printed = process.stdout.readline()  # the port it bound, or nothing when it could not start
        if not printed.strip().isdigit():
            raise AssertionError(f"the test MCP server did not start: {printed!r}")
        port = int(printed)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the test MCP server did not start")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            time.sleep(0.1)
        yield McpHttpServer(url=f"http://127.0.0.1:{port}/mcp", process=process, record=record)
    finally:
        if process.poll() is None:
            process.kill()  # not terminate: uvicorn would wait for a slow call to end
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def mcp_http_server(tmp_path: Any) -> Iterator[McpHttpServer]:
    with running(tmp_path, api_key="k-123") as server:
        yield server


if __name__ == "__main__":
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    print(listening.getsockname()[1], flush=True)
    key = sys.argv[1] if len(sys.argv) > 1 else None
    uvicorn.Server(uvicorn.Config(app(key), log_level="warning")).run(sockets=[listening])
