"""The benchmark's no-op tool, registered through ORCHESTRATE_EXTRA_TOOLS=bench.tools.NoopTool.

Every process that sets Django up (the bench driver and each Celery worker)
imports this module when the tools app is ready, so this is also where the
query counter is installed (when BENCH_COUNT_QUERIES is set, see
bench/querycount.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from bench import querycount
from tools.base import Tool, ToolCall, ToolResult

querycount.install_from_env()


class NoopTool(Tool):
    name = "bench.noop"
    description = "Return its input's value; does nothing else (engine benchmark)."
    capabilities = ("bench.noop",)
    input_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"value": {}}}

    def run(self, call: ToolCall) -> ToolResult:
        return ToolResult(output={"value": call.input.get("value")})


class WaitForFileTool(Tool):
    """The first step of the websocket benchmark's run: it waits until every client is connected."""

    name = "bench.wait_for_file"
    description = "Wait until a file exists (websocket benchmark)."
    capabilities = ("bench.wait",)
    input_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"path": {"type": "string"}}}

    def run(self, call: ToolCall) -> ToolResult:
        path = Path(call.input["path"])
        while not path.exists() and call.seconds_left() > 0.2 and not call.is_cancelled():
            time.sleep(0.01)
        return ToolResult(output={"value": 0})
