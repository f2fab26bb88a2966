"""A calendar per workspace: two workspaces never see or delete each other's events,
on the built-in calendar and over CalDAV (each its own collection on the server)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from tests.support import tool_call
from tools.base import ToolError
from tools.integrations.calendar.tool import CalendarCreateEvent, CalendarDeleteEvent, CalendarListEvents

TOMORROW_10 = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(10, 0), tzinfo=UTC)


def _create(workspace, summary):
    tool_input = {"summary": summary, "start": TOMORROW_10.isoformat()}
    return CalendarCreateEvent().run(tool_call(tool_input, workspace.pk)).output


def _listed(workspace):
    output = CalendarListEvents().run(tool_call({}, workspace.pk)).output
    return [(event["uid"], event["summary"]) for event in output["events"]]


def _delete(workspace, uid):
    return CalendarDeleteEvent().run(tool_call({"uid": uid}, workspace.pk, step_number=9)).output


def _two_calendars(workspace_a, workspace_b):
    a = _create(workspace_a, "A's board meeting")
    b = _create(workspace_b, "B's offsite")
    return a, b


def test_it_keeps_each_workspace_s_built_in_calendar_to_itself(settings, workspace_a, workspace_b):
    settings.CALDAV_URL = None
    a, b = _two_calendars(workspace_a, workspace_b)

    assert _listed(workspace_a) == [(a["uid"], "A's board meeting")]
    assert _listed(workspace_b) == [(b["uid"], "B's offsite")]
    assert _delete(workspace_b, a["uid"]) == {"uid": a["uid"], "deleted": False}
    assert _listed(workspace_a) == [(a["uid"], "A's board meeting")]


def test_it_gives_each_workspace_its_own_collection_on_the_caldav_server(caldav_server, workspace_a, workspace_b):
    a, b = _two_calendars(workspace_a, workspace_b)

    assert _listed(workspace_a) == [(a["uid"], "A's board meeting")]
    assert _listed(workspace_b) == [(b["uid"], "B's offsite")]
    assert _delete(workspace_b, a["uid"]) == {"uid": a["uid"], "deleted": False}
    assert _listed(workspace_a) == [(a["uid"], "A's board meeting")]

    with caldav_server.client() as client:
        calendars = {
            calendar.url.path.rstrip("/").rsplit("/", 1)[-1]: [
                str(item.icalendar_component["uid"]) for item in calendar.events()
            ]
            for calendar in client.principal().calendars()
        }
    assert calendars == {
        f"orchestrate-{workspace_a.pk.hex}": [a["uid"]],
        f"orchestrate-{workspace_b.pk.hex}": [b["uid"]],
    }


def test_it_lists_and_deletes_only_its_own_events_on_a_calendar_it_shares(caldav_server, workspace_a, workspace_b):
    # Both workspaces point at the same collection on purpose: each still sees only what it created.
    for workspace in (workspace_a, workspace_b):
        workspace.integrations = {"caldav": {"calendar": "Shared team calendar"}}
        workspace.save()
    a, b = _two_calendars(workspace_a, workspace_b)

    assert _listed(workspace_a) == [(a["uid"], "A's board meeting")]
    assert _listed(workspace_b) == [(b["uid"], "B's offsite")]
    with pytest.raises(ToolError, match="was not created by this workspace"):
        _delete(workspace_b, a["uid"])
    assert _delete(workspace_a, a["uid"]) == {"uid": a["uid"], "deleted": True}
