"""The workspace ICS feed: built from the runs' calendar steps, served at a secret URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
from django.urls import path
from django.utils import timezone

from orchestration.calendar_feed import calendar_feed, workspace_feed
from orchestration.models import StepStatus
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.support import tool_call
from tools.base import Tool
from tools.integrations.calendar.tool import CalendarCreateEvent, CalendarDeleteEvent

# This module is its own URLconf until the feed is wired into config/urls.py.
urlpatterns = [path("calendar/<str:token>.ics", calendar_feed, name="calendar_feed")]
pytestmark = pytest.mark.urls(__name__)

START = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def run_step(tool_class: type[Tool], tool_input: dict[str, Any], workspace: Any, user: Any, *, number: int = 1) -> Any:
    """Run the tool for real and record it as a succeeded step of a run in the workspace, as the engine would."""
    execution = ExecutionFactory.create(workspace=workspace, user=user)
    result = tool_class().run(tool_call(tool_input, workspace.pk, step_number=number))
    return ExecutionStepFactory.create(
        execution=execution,
        step_number=number,
        agent_id="calendar",
        tool=tool_class.name,
        input=tool_input,
        output=result.output,
        status=StepStatus.SUCCEEDED,
        completed_at=timezone.now(),
    )


def schedule(workspace: Any, user: Any, summary: str, *, number: int = 1, **fields: Any) -> Any:
    tool_input = {"summary": summary, "start": START.isoformat(), **fields}
    return run_step(CalendarCreateEvent, tool_input, workspace, user, number=number)


def feed_events(client: Any, workspace: Any) -> dict[str, icalendar.Event]:
    response = client.get(f"/calendar/{workspace.calendar_feed_token}.ics")
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(event["summary"]): event for event in calendar.walk("VEVENT") if isinstance(event, icalendar.Event)}


def test_it_lists_the_events_the_workspace_runs_created(client, caldav_server, workspace_a, alice):
    step = schedule(workspace_a, alice, "Budget review", attendees=["Bob <bob@example.com>"], duration_minutes=30)

    response = client.get(f"/calendar/{workspace_a.calendar_feed_token}.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'inline; filename="a.ics"'
    assert "private" in response["Cache-Control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "A"
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == step.output["uid"]
    assert str(event["summary"]) == "Budget review"
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(minutes=30)
    assert str(event["attendee"]) == "mailto:bob@example.com"


def test_it_keeps_other_workspaces_events_out(client, caldav_server, workspace_a, workspace_b, alice, charlie):
    schedule(workspace_a, alice, "A's meeting")
    schedule(workspace_b, charlie, "B's meeting")

    assert list(feed_events(client, workspace_a)) == ["A's meeting"]
    assert list(feed_events(client, workspace_b)) == ["B's meeting"]


def test_it_leaves_out_events_that_a_later_step_deleted(client, caldav_server, workspace_a, alice):
    schedule(workspace_a, alice, "Kept", number=1)
    doomed = schedule(workspace_a, alice, "Cancelled", number=2)
    run_step(CalendarDeleteEvent, {"uid": doomed.output["uid"]}, workspace_a, alice, number=3)

    assert list(feed_events(client, workspace_a)) == ["Kept"]


def test_it_ignores_steps_that_did_not_succeed(client, caldav_server, workspace_a, alice):
    step = schedule(workspace_a, alice, "Never confirmed")
    step.status = StepStatus.FAILED
    step.save(update_fields=["status"])

    assert feed_events(client, workspace_a) == {}


def test_it_works_while_the_calendar_server_is_down(client, caldav_server, workspace_a, alice):
    schedule(workspace_a, alice, "Budget review")
    caldav_server.stop()

    assert list(feed_events(client, workspace_a)) == ["Budget review"]


@pytest.mark.parametrize("token", ["x" * 43, "not a token!", "short"])
def test_it_answers_404_for_an_unknown_or_malformed_token(client, workspace_a, token):
    response = client.get(f"/calendar/{token}.ics")

    assert response.status_code == 404


def test_it_needs_no_login_but_only_answers_for_the_current_token(client, workspace_a):
    old_token = workspace_a.calendar_feed_token
    workspace_a.calendar_feed_token = "rotated-" + "r" * 35
    workspace_a.save(update_fields=["calendar_feed_token"])

    assert client.get(f"/calendar/{old_token}.ics").status_code == 404
    assert client.get(f"/calendar/{workspace_a.calendar_feed_token}.ics").status_code == 200


def test_it_builds_an_empty_but_valid_calendar_for_a_workspace_without_events(workspace_b):
    calendar = icalendar.Calendar.from_ical(workspace_feed(workspace_b))

    assert str(calendar["X-WR-CALNAME"]) == "B"
    assert calendar.walk("VEVENT") == []
