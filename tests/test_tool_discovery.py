from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tools.base import Stage, Tool, ToolCall, ToolResult
from tools.discovery import discover_tools
from tools.models import ToolCatalog, ToolType
from tools.registry import ToolRegistry, registry

BUILTIN_NAMES = [
    "analysis.describe",
    "analysis.summarise",
    "calendar.create_event",
    "calendar.delete_event",
    "calendar.list_events",
    "drive.list",
    "drive.read",
    "drive.search",
    "drive.write",
    "email.send",
    "llm.chat",
    "report.compose",
    "web.get",
    "web.post",
]


class CalendarBook(Tool):
    name = "calendar.book"
    description = "Book a meeting."
    stage = Stage.SINK
    capabilities = ("calendar.book",)

    def run(self, call: ToolCall) -> ToolResult:
        return ToolResult(output={})


class Echo(Tool):
    name = "echo"
    description = "Echo the input."

    def run(self, call: ToolCall) -> ToolResult:
        return ToolResult(output=call.input)


@pytest.fixture
def empty_catalogue(db):
    ToolCatalog.objects.all().delete()


def registered() -> list[str]:
    """Every registered tool: the built-in ones, plus any the test environment adds by ORCHESTRATE_EXTRA_TOOLS."""
    return [tool.name for tool in registry.all()]


def test_it_registers_the_builtin_tools():
    assert [name for name in registered() if registry.origin(name) == "builtin"] == BUILTIN_NAMES


def test_it_catalogues_every_registered_tool(empty_catalogue):
    report = discover_tools()

    assert report.added == registered()
    assert set(BUILTIN_NAMES) <= set(report.added)
    assert (report.updated, report.missing) == ([], [])
    row = ToolCatalog.objects.get(name="drive.search")
    assert row.tool_type == ToolType.BUILTIN
    assert row.capabilities == ["files.search"]
    assert row.metadata == {
        **registry.get("drive.search").describe(),
        "origin": "builtin",
        "available": True,
    }
    assert row.metadata["stage"] == "source"
    assert (timezone.now() - row.last_discovered_at).total_seconds() < 60


def test_it_updates_rows_it_has_seen_before(empty_catalogue):
    discover_tools()
    ToolCatalog.objects.filter(name="llm.chat").update(capabilities=["stale"], metadata={})

    report = discover_tools()

    assert (report.added, report.updated) == ([], registered())
    assert str(report) == f"0 added, {len(registered())} updated, 0 missing"
    row = ToolCatalog.objects.get(name="llm.chat")
    assert row.capabilities == ["llm.chat", "text.generate"]
    assert row.metadata["rate_limit"] == ["llm", "chat"]


def test_it_marks_tools_that_disappeared_without_deleting_them(empty_catalogue):
    now = timezone.now()
    ToolCatalog.objects.create(
        name="old.tool", tool_type=ToolType.PLUGIN, metadata={"version": "2"}, last_discovered_at=now
    )
    ToolCatalog.objects.create(name="remote.search", tool_type=ToolType.EXTERNAL, last_discovered_at=now)
    ToolCatalog.objects.create(name="mcp.files.read_file", tool_type=ToolType.MCP, last_discovered_at=now)

    report = discover_tools()

    assert report.missing == ["old.tool"]
    assert ToolCatalog.objects.get(name="old.tool").metadata == {"version": "2", "available": False}
    # External and MCP servers' rows are kept by whatever discovers those, not marked here.
    assert ToolCatalog.objects.get(name="remote.search").metadata == {}
    assert ToolCatalog.objects.get(name="mcp.files.read_file").metadata == {}


def test_it_types_extra_and_plugin_tools_as_plugins(empty_catalogue):
    tools = ToolRegistry()
    tools.register(CalendarBook, origin="plugin:orchestrate-calendar")
    tools.register(Echo, origin="extra")

    report = discover_tools(tools)

    assert report.added == ["calendar.book", "echo"]
    calendar = ToolCatalog.objects.get(name="calendar.book")
    assert calendar.tool_type == ToolType.PLUGIN
    assert calendar.metadata["origin"] == "plugin:orchestrate-calendar"
    assert ToolCatalog.objects.get(name="echo").tool_type == ToolType.PLUGIN


def test_it_refreshes_the_catalogue_after_migrate(empty_catalogue):
    call_command("migrate", verbosity=0, interactive=False)

    assert list(ToolCatalog.objects.values_list("name", flat=True)) == registered()


def test_it_runs_discovery_from_the_command_line(empty_catalogue):
    out = StringIO()

    call_command("discover_tools", stdout=out)

    assert "added\tdrive.search" in out.getvalue()
    assert f"Tool discovery: {len(registered())} added, 0 updated, 0 missing" in out.getvalue()
    assert ToolCatalog.objects.count() == len(registered())
