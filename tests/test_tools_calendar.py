"""The calendar tools against a real CalDAV server (Radicale), checked with the caldav client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import icalendar
import jsonschema
import pytest

from tests.support import tool_call
from tools.base import RetryableToolError, Tool, ToolError, ToolInputError, ToolResult
from tools.integrations.calendar.tool import CalendarCreateEvent, CalendarDeleteEvent, CalendarListEvents
from tools.models import CalendarEvent

TOMORROW_10 = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(10, 0), tzinfo=UTC)


def run(tool_class: type[Tool], tool_input: dict[str, Any], workspace: Any, *, step: int = 1) -> ToolResult:
    """Validate the input against the schema and run the tool, as the engine does; `step` sets the key."""
    tool = tool_class()
    jsonschema.validate(tool_input, tool.input_schema, cls=jsonschema.Draft202012Validator)
    return tool.run(tool_call(tool_input, workspace.pk, step_number=step))


def create(workspace: Any, *, step: int = 1, **fields: Any) -> ToolResult:
    tool_input = {"summary": "Budget review", "start": TOMORROW_10.isoformat(), **fields}
    return run(CalendarCreateEvent, tool_input, workspace, step=step)


def server_events(server: Any, calendar_name: str | None = None) -> list[icalendar.Event]:
    """Every event in the named calendar (default: in every calendar), read straight from the server."""
    found: list[icalendar.Event] = []
    with server.client() as client:
        for calendar in client.principal().calendars():
            if calendar_name is None or calendar.get_display_name() == calendar_name:
                found.extend(item.icalendar_component for item in calendar.events())
    return found


def events_between(server: Any, start: datetime, end: datetime) -> list[icalendar.Event]:
    found: list[icalendar.Event] = []
    with server.client() as client:
        for calendar in client.principal().calendars():
            found.extend(item.icalendar_component for item in calendar.search(event=True, start=start, end=end))
    return found


def test_it_creates_one_event_at_the_start_time_with_the_attendee(caldav_server, settings, workspace_a):
    settings.DEFAULT_FROM_EMAIL = "Orchestrate <robot@example.com>"

    result = create(workspace_a, attendees=["Bob Smith <bob@example.com>"], location="Room 1")

    found = events_between(caldav_server, TOMORROW_10 - timedelta(hours=1), TOMORROW_10 + timedelta(hours=2))
    assert len(found) == 1
    event = found[0]
    assert str(event["summary"]) == "Budget review"
    assert event.decoded("dtstart") == TOMORROW_10
    assert event.decoded("dtend") == TOMORROW_10 + timedelta(minutes=60)
    assert str(event["location"]) == "Room 1"
    attendee = event["attendee"]
    assert str(attendee) == "mailto:bob@example.com"
    assert attendee.params["CN"] == "Bob Smith"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert str(event["organizer"]) == "mailto:robot@example.com"
    assert str(event["uid"]) == result.output["uid"]
    assert result.output == {
        "uid": result.output["uid"],
        "url": result.output["url"],
        "summary": "Budget review",
        "start": TOMORROW_10.isoformat(),
        "end": (TOMORROW_10 + timedelta(hours=1)).isoformat(),
        "attendees": ["bob@example.com"],
    }
    assert result.output["uid"].startswith("orchestrate-")
    assert result.output["url"].startswith(caldav_server.url)
    assert result.summary == f"Scheduled Budget review at {TOMORROW_10.isoformat()}"
    assert caldav_server.password not in repr(result)


def test_it_keeps_one_event_when_a_resumed_step_creates_it_again(caldav_server, workspace_a):
    first = create(workspace_a, attendees=["bob@example.com"])
    # The worker died after the PUT; the step resumes with the same idempotency key.
    again = create(workspace_a, attendees=["bob@example.com"])

    assert again.output["uid"] == first.output["uid"]
    assert again.output["url"] == first.output["url"]
    found = server_events(caldav_server)
    assert [str(event["uid"]) for event in found] == [first.output["uid"]]


def test_it_makes_two_events_for_two_steps(caldav_server, workspace_a):
    first = create(workspace_a, step=1)
    second = create(workspace_a, step=2)

    assert first.output["uid"] != second.output["uid"]
    assert sorted(str(event["uid"]) for event in server_events(caldav_server)) == sorted(
        [first.output["uid"], second.output["uid"]]
    )


def test_it_gives_each_workspace_its_own_event_for_the_same_step_key(caldav_server, workspace_a, workspace_b):
    first = create(workspace_a)
    second = create(workspace_b)

    assert first.output["uid"] != second.output["uid"]
    assert len(server_events(caldav_server)) == 2


def test_it_takes_a_naive_start_as_utc_and_converts_offsets_to_utc(caldav_server, workspace_a):
    naive = create(workspace_a, step=1, start="2030-01-31T10:00:00", duration_minutes=30)
    offset = create(workspace_a, step=2, start="2030-01-31T10:00:00+02:00", end="2030-01-31T11:15:00+02:00")

    assert (naive.output["start"], naive.output["end"]) == ("2030-01-31T10:00:00+00:00", "2030-01-31T10:30:00+00:00")
    assert (offset.output["start"], offset.output["end"]) == ("2030-01-31T08:00:00+00:00", "2030-01-31T09:15:00+00:00")
    starts = {str(event["uid"]): event.decoded("dtstart") for event in server_events(caldav_server)}
    assert starts[offset.output["uid"]] == datetime(2030, 1, 31, 8, 0, tzinfo=UTC)


def test_it_lists_the_events_in_a_time_range(caldav_server, workspace_a):
    soon = create(workspace_a, step=1, attendees=["bob@example.com"])
    later = create(workspace_a, step=2, summary="Planning", start="2031-06-01T09:00:00Z")

    upcoming = run(CalendarListEvents, {}, workspace_a)
    in_2031 = run(CalendarListEvents, {"start": "2031-05-01T00:00:00", "end": "2031-07-01T00:00:00"}, workspace_a)

    assert upcoming.output["count"] == 1
    assert upcoming.output["events"] == [
        {
            "uid": soon.output["uid"],
            "summary": "Budget review",
            "start": TOMORROW_10.isoformat(),
            "end": (TOMORROW_10 + timedelta(hours=1)).isoformat(),
            "attendees": ["bob@example.com"],
        }
    ]
    assert [event["uid"] for event in in_2031.output["events"]] == [later.output["uid"]]


def test_it_deletes_an_event_and_deleting_it_again_is_not_an_error(caldav_server, workspace_a):
    kept = create(workspace_a, step=1)
    doomed = create(workspace_a, step=2)

    deleted = run(CalendarDeleteEvent, {"uid": doomed.output["uid"]}, workspace_a)
    again = run(CalendarDeleteEvent, {"uid": doomed.output["uid"]}, workspace_a)

    assert deleted.output == {"uid": doomed.output["uid"], "deleted": True}
    assert again.output == {"uid": doomed.output["uid"], "deleted": False}
    assert [str(event["uid"]) for event in server_events(caldav_server)] == [kept.output["uid"]]


def test_it_uses_the_workspace_caldav_settings_over_the_project_ones(caldav_server, settings, workspace_a):
    workspace_a.integrations = {
        "caldav": {
            "url": caldav_server.url,
            "username": caldav_server.username,
            "password": caldav_server.password,
            "calendar": "Team meetings",
        }
    }
    workspace_a.save()
    settings.CALDAV_URL = None
    settings.WEB_ALLOWED_HOSTS = ["127.0.0.1"]  # a server a workspace names is held to the SSRF guard

    result = create(workspace_a)

    assert [str(event["uid"]) for event in server_events(caldav_server, "Team meetings")] == [result.output["uid"]]
    assert len(server_events(caldav_server)) == 1


def test_it_refuses_a_workspace_calendar_server_on_an_internal_address(caldav_server, settings, workspace_a):
    workspace_a.integrations = {
        "caldav": {"url": caldav_server.url, "username": caldav_server.username, "password": caldav_server.password}
    }
    workspace_a.save()

    with pytest.raises(ToolError, match=r"may not be reached: Refused to connect to '127\.0\.0\.1': a loopback"):
        create(workspace_a)
    assert server_events(caldav_server) == []


def test_it_refuses_a_calendar_url_on_another_host_than_the_server(caldav_server, workspace_a):
    workspace_a.integrations = {"caldav": {"calendar": "http://elsewhere.example/calendars/team/"}}
    workspace_a.save()

    with pytest.raises(ToolError, match="must be on the configured CalDAV server"):
        create(workspace_a)


def test_it_uses_the_workspace_s_built_in_calendar_when_no_server_is_configured(settings, workspace_a):
    settings.CALDAV_URL = None

    first = create(workspace_a, attendees=["bob@example.com"])
    again = create(workspace_a, attendees=["bob@example.com"])  # the step resumed: still one event
    listed = run(CalendarListEvents, {"start": (TOMORROW_10 - timedelta(hours=1)).isoformat()}, workspace_a)

    assert again.output == first.output
    assert [event["uid"] for event in listed.output["events"]] == [first.output["uid"]]
    [event] = listed.output["events"]
    assert event["start"] == TOMORROW_10.isoformat()
    assert event["attendees"] == ["bob@example.com"]
    assert CalendarEvent.objects.filter(workspace=workspace_a).count() == 1
    deleted = run(CalendarDeleteEvent, {"uid": first.output["uid"]}, workspace_a)
    assert deleted.output == {"uid": first.output["uid"], "deleted": True}
    assert CalendarEvent.objects.count() == 0


def test_it_asks_for_a_retry_when_the_server_is_unreachable(caldav_server, workspace_a):
    caldav_server.stop()

    with pytest.raises(RetryableToolError) as failure:
        create(workspace_a)

    assert "127.0.0.1" in str(failure.value)
    assert caldav_server.password not in str(failure.value)


def test_it_blames_the_credentials_and_hides_the_password_when_login_fails(caldav_server, settings, workspace_a):
    settings.CALDAV_PASSWORD = "not-the-password-42"

    with pytest.raises(ToolError) as failure:
        run(CalendarListEvents, {}, workspace_a)

    assert not isinstance(failure.value, RetryableToolError)
    assert "credentials" in str(failure.value)
    assert "not-the-password-42" not in str(failure.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"end": "2030-01-01T09:00:00"}, "must end after it starts"),
        ({"attendees": ["not an address"]}, "Not an e-mail address"),
        ({"start": "tomorrow at ten"}, "not an ISO 8601"),
    ],
)
def test_it_refuses_bad_input_before_calling_the_server(settings, workspace_a, fields, message):
    settings.CALDAV_URL = "http://127.0.0.1:9/"  # nothing listens there: input errors must come first
    tool_input = {"summary": "Budget review", "start": "2030-01-01T10:00:00", **fields}

    with pytest.raises(ToolInputError, match=message):
        CalendarCreateEvent().run(tool_call(tool_input, workspace_a.pk))


def test_it_refuses_an_end_and_a_duration_together():
    tool_input = {"summary": "x", "start": "2030-01-01T10:00:00", "end": "2030-01-01T11:00:00", "duration_minutes": 5}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tool_input, CalendarCreateEvent.input_schema, cls=jsonschema.Draft202012Validator)


def test_it_describes_its_impact_and_locks_the_workspace_calendar(workspace_a):
    tool = CalendarCreateEvent()
    tool_input = {"summary": "Budget review", "start": "2030-01-01T10:00:00", "attendees": ["bob@example.com"]}
    crowd = {**tool_input, "attendees": [f"person{n}@example.com" for n in range(25)]}

    assert tool.estimate_impact(tool_input) == {
        "action": "create calendar event",
        "summary": "Budget review",
        "attendees": ["bob@example.com"],
        "attendee_count": 1,
        "start": "2030-01-01T10:00:00+00:00",
    }
    assert tool.resources(tool_input, str(workspace_a.pk)) == [f"calendar:{workspace_a.pk}"]
    assert tool.approval_reason(tool_input) is None
    assert "25 people" in (tool.approval_reason(crowd) or "")
    assert CalendarDeleteEvent().approval_reason({"uid": "x"})
    assert CalendarCreateEvent.describe()["rate_limit"] == ["caldav", "write"]


class _FailingHandler(BaseHTTPRequestHandler):
    """Answers every request, whatever its method (PROPFIND, REPORT...), with the server's status."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._fail
        raise AttributeError(name)

    def _fail(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def failing_server(settings) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingHandler)
    server.status = 500  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    settings.CALDAV_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    settings.CALDAV_USERNAME, settings.CALDAV_PASSWORD = "someone", "secret-password"
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize("status", [500, 503])
def test_it_asks_for_a_retry_when_the_server_fails(failing_server, workspace_a, status):
    failing_server.status = status

    with pytest.raises(RetryableToolError) as failure:
        create(workspace_a)

    assert "secret-password" not in str(failure.value)


def test_it_keeps_credentials_in_a_calendar_url_out_of_the_output(caldav_server, workspace_a):
    with caldav_server.client() as client:
        calendar = client.principal().make_calendar(name="Shared", cal_id="shared")
    secret_url = str(calendar.url).replace("http://", f"http://{caldav_server.username}:{caldav_server.password}@")
    workspace_a.integrations = {"caldav": {"calendar": secret_url}}
    workspace_a.save()

    result = create(workspace_a)

    assert (
        result.output["url"]
        == f"{caldav_server.url}{caldav_server.username}/shared/{result.output['url'].rsplit('/', 1)[-1]}"
    )
    assert caldav_server.password not in repr(result)
    assert [str(event["uid"]) for event in server_events(caldav_server, "Shared")] == [result.output["uid"]]
