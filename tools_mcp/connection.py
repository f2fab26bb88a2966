"""Talking to a workspace's MCP server with the official SDK: list its tools, call one.

Every use opens a connection and closes it: a stdio server is started for
the call and stopped after it (so no process outlives a step, and a Celery
worker needs no pool), an HTTP server gets one session. The engine's
workers are synchronous, so `run_bounded()` runs the SDK's async code on a
loop of its own, ends it at the step's deadline and when the step is
cancelled (closing the connection, which stops a stdio server).

Failures become the tool contract's errors, with messages naming the server:
not reachable or not starting (or too slow to list its tools) is retryable;
a call cut off or timed out in flight is not (the server may have acted, and
a repeat could act twice); a tool's own error result is a plain failure.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
from django.conf import settings

from tenancy.secrets import SecretUnreadable, open_sealed, seal
from tools.base import RetryableToolError, ToolError
from tools_mcp.models import McpServer
from tools_mcp.models import Transport as TransportKind

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import CallToolResult, Tool

T = TypeVar("T")
HEADERS_PURPOSE = "mcp-headers"
_POLL_SECONDS = 0.2
_STDERR_TAIL = 500


class CommandNotAllowed(ToolError):
    """The stdio command is not one the installation allows."""


def allowed_command(command_line: str) -> list[str]:
    """The command line split into words, if its program is in ORCHESTRATE_MCP_STDIO_COMMANDS."""
    try:
        words = shlex.split(command_line)
    except ValueError as exc:
        raise CommandNotAllowed(f"The command line cannot be read: {exc}.") from None
    allowed = settings.ORCHESTRATE_MCP_STDIO_COMMANDS
    if not words:
        raise CommandNotAllowed("Give the command that starts the server.")
    if words[0] not in allowed:
        listed = ", ".join(allowed) if allowed else "none: ask the administrator to set ORCHESTRATE_MCP_STDIO_COMMANDS"
        raise CommandNotAllowed(f"{words[0]!r} is not a command this installation allows (allowed: {listed}).")
    return words


def seal_headers(headers: dict[str, str], workspace_id: Any) -> str:
    return seal(headers, purpose=HEADERS_PURPOSE, workspace_id=workspace_id) if headers else ""


def open_headers(server: McpServer) -> dict[str, str]:
    if not server.headers_sealed:
        return {}
    try:
        value = open_sealed(server.headers_sealed, purpose=HEADERS_PURPOSE, workspace_id=server.workspace_id)
    except SecretUnreadable as exc:
        raise ToolError(f"The headers of the MCP server {server.name} cannot be read: {exc}") from None
    return {str(key): str(item) for key, item in cast(dict[str, Any], value).items()}


def _workdir(server: McpServer) -> Path:
    """Where a stdio server of the workspace runs: its own folder under var/, not the project's."""
    path = Path(settings.VAR_DIR) / "mcp" / str(server.workspace_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Trouble:
    """What a connection leaves behind for the error message: a stdio server's stderr, HTTP refusals."""

    stderr: Any
    refusals: list[int] = field(default_factory=list)

    def stderr_tail(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        text = self.stderr.read()[-_STDERR_TAIL:].strip()
        return f" Its last words: {text}" if text else ""


@contextlib.contextmanager
def trouble() -> Iterator[Trouble]:
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        yield Trouble(stderr)


@contextlib.asynccontextmanager
async def connect(server: McpServer, timeout: float, trouble: Trouble) -> AsyncIterator[Client]:
    """A connected, initialised SDK client for the server."""
    # The SDK and its HTTP stack are imported when a server is first used, not when this module is:
    # they were a third of the start-up of every process (commands, workers, servers), most of
    # which never talk to an MCP server.
    from mcp import Client, StdioServerParameters, stdio_client
    from mcp.client._transport import Transport
    from mcp.client.streamable_http import streamable_http_client

    from tools_mcp.http_guard import guarded_client

    transport: Any
    if server.transport == TransportKind.STDIO:
        words = allowed_command(server.command)
        program = shutil.which(words[0]) or words[0]
        params = StdioServerParameters(command=program, args=words[1:], cwd=str(_workdir(server)))
        transport = stdio_client(params, errlog=trouble.stderr)
        async with Client(cast(Transport, transport), read_timeout_seconds=timeout, cache=None) as client:
            yield client
        return
    async with guarded_client(open_headers(server), timeout, trouble.refusals) as http:
        transport = streamable_http_client(server.url, http_client=http)
        async with Client(cast(Transport, transport), read_timeout_seconds=timeout, cache=None) as client:
            yield client


def run_bounded(work: Callable[[], Awaitable[T]], *, deadline: float, is_cancelled: Callable[[], bool]) -> T:
    """Run `work` on an event loop of its own until it ends, the deadline passes or the step is cancelled."""

    async def main() -> T:
        result: list[T] = []
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while not is_cancelled():
                    await anyio.sleep(_POLL_SECONDS)
                group.cancel_scope.cancel()

            async def do() -> None:
                with anyio.fail_after(max(0.05, deadline - time.monotonic())):
                    result.append(await work())
                group.cancel_scope.cancel()

            group.start_soon(watch)
            group.start_soon(do)
        if not result:
            raise ToolError("The step was cancelled; the call to the MCP server was stopped.")
        return result[0]

    return anyio.run(main)


def _unwrap(exc: BaseException) -> BaseException:
    """The one real error inside the task groups' exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def translate(server: McpServer, phase: str, exc: BaseException, trouble: Trouble, timeout: float) -> ToolError:
    """The tool contract's error for a failure while connecting, listing or calling (`phase`)."""
    exc = _unwrap(exc)
    where = f"The MCP server {server.name}"
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, TimeoutError):
        late = f"{where} did not answer within {timeout:.1f} seconds while {phase}."
        # A call that timed out may have acted all the same: like one cut off, it is not repeated.
        return (
            ToolError(f"{late} It may or may not have acted, so the call is not repeated.")
            if phase.startswith("calling")
            else RetryableToolError(late)
        )
    from mcp import MCPError

    detail = exc.message if isinstance(exc, MCPError) else f"{type(exc).__name__}: {exc}"
    if trouble.refusals:
        detail += f", HTTP {trouble.refusals[-1]}"
    if phase.startswith("calling"):
        return ToolError(
            f"{where} stopped answering while {phase} ({detail}).{trouble.stderr_tail()} It may or may not have "
            "acted, so the call is not repeated."
        )
    if isinstance(exc, FileNotFoundError | PermissionError):
        return ToolError(f"{where} could not be started: {exc}.")
    if {401, 403} & set(trouble.refusals):
        return ToolError(f"{where} refused the credentials (HTTP {trouble.refusals[-1]}): check its headers.")
    return RetryableToolError(f"{where} could not be reached while {phase} ({detail}).{trouble.stderr_tail()}")


def list_tools(server: McpServer, *, timeout: float | None = None) -> list[Tool]:
    """Every tool the server lists (all pages)."""
    seconds = timeout or settings.ORCHESTRATE_MCP_TIMEOUT
    phase = "connecting"

    async def work() -> list[Tool]:
        nonlocal phase
        async with connect(server, seconds, seen) as client:
            phase = "listing its tools"
            found: list[Tool] = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                found.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return found

    with trouble() as seen:
        try:
            return run_bounded(work, deadline=time.monotonic() + seconds, is_cancelled=lambda: False)
        except Exception as exc:
            raise translate(server, phase, exc, seen, seconds) from None


def call_tool(
    server: McpServer,
    tool: str,
    arguments: dict[str, Any],
    *,
    deadline: float,
    is_cancelled: Callable[[], bool],
) -> CallToolResult:
    """Call one tool; its result, or the contract's error (an error result becomes a ToolError)."""
    seconds = max(0.05, deadline - time.monotonic())
    phase = "connecting"

    async def work() -> CallToolResult:
        nonlocal phase
        async with connect(server, seconds, seen) as client:
            phase = f"calling {tool}"
            return await client.call_tool(tool, arguments)

    with trouble() as seen:
        try:
            result = run_bounded(work, deadline=deadline, is_cancelled=is_cancelled)
        except Exception as exc:
            raise translate(server, phase, exc, seen, seconds) from None
    if result.is_error:
        raise ToolError(f"{tool} on the MCP server {server.name} failed: {text_of(result)[:1000] or 'no details'}")
    return result


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")  # type: ignore[union-attr]


def output_of(result: CallToolResult) -> dict[str, Any]:
    """What a step stores: the text, any structured content, and the other blocks as the server sent them."""
    blocks = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
    output: dict[str, Any] = {"text": text_of(result), "content": blocks}
    if result.structured_content is not None:
        output["structured"] = json.loads(json.dumps(result.structured_content, default=str))
    return output
