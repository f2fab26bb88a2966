"""The benchmark's no-op tool, registered through ORCHESTRATE_EXTRA_TOOLS=bench.tools.NoopTool.

Every process that sets Django up (the bench driver and each Celery worker)
imports this module when the tools app is ready, so this is also where the
query counter is installed (when BENCH_COUNT_QUERIES is set, see
bench/querycount.py).
"""

from __future__ import annotations

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
