"""What one MCP tool call costs Orchestrate: connection set-up, listing, calling, per transport.

    .venv/bin/python -m bench.mcp_calls                # 10 calls each after one warm-up
    .venv/bin/python -m bench.mcp_calls --repeat 30

Every discovery or call opens its own connection (tools_mcp/connection.py): a
stdio server is started for the call and stopped after it, an HTTP server
gets one session. This measures `connection.list_tools()` and
`connection.call_tool()` end to end against the servers the tests use:
`mcp-server-git` over stdio on a temporary repository, and the SDK-built
streamable-HTTP server of tests/support/mcp_http_server.py (a process on
loopback). A script that prints figures; nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _figures(label: str, work: Callable[[], object], repeat: int) -> None:
    work()  # warm-up: imports, the first process start
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"{label:<38} median {statistics.median(times):8.1f} ms   p90 {p90:8.1f} ms   n={repeat}")


def main() -> None:
    args = argparse.ArgumentParser(prog="python -m bench.mcp_calls")
    args.add_argument("--repeat", type=int, default=10)
    repeat = args.parse_args().repeat
    git_program = shutil.which("mcp-server-git") or str(Path(sys.executable).parent / "mcp-server-git")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ORCHESTRATE_MCP_STDIO_COMMANDS"] = git_program
    os.environ["WEB_ALLOWED_HOSTS"] = "127.0.0.1"
    import django

    django.setup()
    from tests.support.mcp_http_server import running
    from tools_mcp import connection
    from tools_mcp.models import McpServer, Transport

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        for command in (
            ["git", "init", "-q"],
            ["git", "-c", "user.email=b@e", "-c", "user.name=B", "commit", "-q", "--allow-empty", "-m", "bench"],
        ):
            subprocess.run(command, cwd=repo, check=True)
        workspace = uuid.uuid4()
        git = McpServer(
            workspace_id=workspace, name="git", transport=Transport.STDIO, command=f"{git_program} --repository {repo}"
        )
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        _figures("stdio (mcp-server-git): list tools", lambda: connection.list_tools(git), repeat)
        _figures(
            "stdio (mcp-server-git): git_status",
            lambda: connection.call_tool(
                git, "git_status", {"repo_path": str(repo)}, deadline=time.monotonic() + 60, is_cancelled=bool
            ),
            repeat,
        )
        with running(Path(tmp)) as server:
            http = McpServer(workspace_id=workspace, name="notes", transport=Transport.HTTP, url=server.url)
            _figures("streamable HTTP (loopback): list tools", lambda: connection.list_tools(http), repeat)
            _figures(
                "streamable HTTP (loopback): add",
                lambda: connection.call_tool(
                    http, "add", {"a": 1, "b": 2}, deadline=time.monotonic() + 60, is_cancelled=bool
                ),
                repeat,
            )


if __name__ == "__main__":
    main()
