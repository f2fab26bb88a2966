"""Calendar tools: schedule, list and delete events on the workspace's calendar.

With CalDAV settings (the workspace's own or the CALDAV_* settings) the
calendar is a collection on that server, one per workspace; without, it is
the workspace's built-in calendar in the database (see `tools.integrations.calendar.client`).
Both behave the same: create, list and delete, with the same idempotency,
and only ever on events the workspace created.

Creating an event is idempotent per step: its UID and its URL on the
server are derived from the workspace and `call.idempotency_key`, and it is
written with a PUT to that URL, so a resumed step replaces the event it
made before instead of adding a second one. The outputs of
`calendar.create_event` steps are also what the workspace's ICS feed
lists (`orchestration.calendar_feed`), so they carry every field the feed
shows.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress

from tools.base import Stage, Tool, ToolCall, ToolInputError, ToolResult
from tools.integrations.calendar.client import WORKSPACE_PROPERTY, open_calendar

UID_DOMAIN = "orchestrate"
PRODID = "-//Orchestrate//Calendar tools//EN"
DEFAULT_DURATION_MINUTES = 60
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_ATTENDEES = 100
# Inviting more people than this is a mass invitation: a person approves it first.
ATTENDEES_NEEDING_APPROVAL = 20
DEFAULT_LIST_DAYS = 30
MAX_LIST_DAYS = 366
MAX_LISTED_EVENTS = 200

DATETIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 10,
    "description": "ISO 8601 date and time, e.g. '2030-01-31T10:00:00+01:00'; without an offset it is UTC.",
}


def event_name(workspace_id: str, idempotency_key: str) -> str:
    """The event's name on the server: the same on every attempt of a step, distinct per workspace."""
    digest = hashlib.sha256(f"{workspace_id}:{idempotency_key}".encode()).hexdigest()[:32]
    return f"orchestrate-{digest}"


def event_uid(workspace_id: str, idempotency_key: str) -> str:
    return f"{event_name(workspace_id, idempotency_key)}@{UID_DOMAIN}"


def parse_when(value: Any, field: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text; a naive time is taken as UTC."""
    if not isinstance(value, str):
        raise ToolInputError(f"{field} must be an ISO 8601 date and time, not {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ToolInputError(f"{field} is not an ISO 8601 date and time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Stored in UTC: a fixed offset has no VTIMEZONE to name it, and the instant is what matters.
    return parsed.astimezone(UTC)


def iso(value: date | datetime) -> str:
    return value.isoformat()


def clean_attendees(attendees: Any) -> list[tuple[str, str]]:
    """(name, address) pairs from "a@b.c" or "Name <a@b.c>", validated, without duplicate addresses."""
    if attendees is None:
        return []
    if not isinstance(attendees, list):
        raise ToolInputError("attendees must be a list of e-mail addresses")
    cleaned: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in attendees:
        name, address = parseaddr(entry) if isinstance(entry, str) else ("", "")
        try:
            validate_email(address)
        except ValidationError:
            raise ToolInputError(f"Not an e-mail address: {entry!r}") from None
        if address.casefold() not in seen:
            seen.add(address.casefold())
            cleaned.append((name, address))
    if len(cleaned) > MAX_ATTENDEES:
        raise ToolInputError(f"At most {MAX_ATTENDEES} attendees can be invited to one event")
    return cleaned


def _address(name: str, address: str, **params: str) -> vCalAddress:
    calendar_address = vCalAddress(f"mailto:{address}")
    calendar_address.params["CN"] = name or address
    calendar_address.params.update(params)
    return calendar_address


def event_window(tool_input: dict[str, Any]) -> tuple[datetime, datetime]:
    start = parse_when(tool_input.get("start"), "start")
    if tool_input.get("end") is not None:
        end = parse_when(tool_input["end"], "end")
    else:
        minutes = tool_input.get("duration_minutes", DEFAULT_DURATION_MINUTES)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_DURATION_MINUTES:
            raise ToolInputError(f"duration_minutes must be a whole number from 1 to {MAX_DURATION_MINUTES}")
        end = start + timedelta(minutes=minutes)
    if end <= start:
        raise ToolInputError("The event must end after it starts")
    return start, end


def build_event(
    uid: str,
    tool_input: dict[str, Any],
    start: datetime,
    end: datetime,
    attendees: list[tuple[str, str]],
    workspace_id: str = "",
) -> bytes:
    """The iCalendar object stored on the server, marked with the workspace it was made for."""
    event = Event()
    event.add("uid", uid)
    if workspace_id:
        event.add(WORKSPACE_PROPERTY, str(workspace_id))
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", tool_input["summary"])
    if tool_input.get("description"):
        event.add("description", tool_input["description"])
    if tool_input.get("location"):
        event.add("location", tool_input["location"])
    organizer_name, organizer = parseaddr(settings.DEFAULT_FROM_EMAIL or "")
    if organizer:
        event.add("organizer", _address(organizer_name or "Orchestrate", organizer))
    for name, address in attendees:
        event.add("attendee", _address(name, address, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION"))
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return calendar.to_ical()


def attendee_emails(event: Event) -> list[str]:
    """The attendees' addresses, without the mailto: scheme."""
    found = event.get("attendee") or []
    if not isinstance(found, list):
        found = [found]
    return [str(value).removeprefix("mailto:").removeprefix("MAILTO:") for value in found]


def describe_event(event: Event) -> dict[str, Any]:
    """A listed event as plain values; all-day events have dates, the rest datetimes."""
    start = event.decoded("dtstart")
    if "dtend" in event:
        end = event.decoded("dtend")
    elif "duration" in event:
        end = start + event.decoded("duration")
    else:
        end = start
    return {
        "uid": str(event.get("uid", "")),
        "summary": str(event.get("summary", "")),
        "start": iso(start),
        "end": iso(end),
        "attendees": attendee_emails(event),
    }


class CalendarCreateEvent(Tool):
    name = "calendar.create_event"
    locks = "the workspace's calendar"
    description = (
        "Schedule an event on the workspace's calendar (CalDAV, or the built-in one), inviting attendees by e-mail; "
        "the start is ISO 8601 (UTC unless it has an offset), with an end or a duration (default 60 minutes)."
    )
    stage = Stage.SINK
    capabilities = ("calendar.create_event", "calendar.schedule")
    side_effects = True
    rate_limit = ("caldav", "write")
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "summary": {"type": "string", "minLength": 1, "maxLength": 255},
            "start": DATETIME_SCHEMA,
            "end": DATETIME_SCHEMA,
            "duration_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_DURATION_MINUTES},
            "attendees": {
                "type": "array",
                "items": {"type": "string", "minLength": 3, "maxLength": 320},
                "maxItems": MAX_ATTENDEES,
                "description": "E-mail addresses, 'a@example.com' or 'Name <a@example.com>'.",
            },
            "description": {"type": "string", "maxLength": 10000},
            "location": {"type": "string", "maxLength": 500},
        },
        "required": ["summary", "start"],
        "not": {"required": ["end", "duration_minutes"]},
        "additionalProperties": False,
    }

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        return [f"calendar:{workspace_id}"]

    def approval_reason(self, tool_input: dict[str, Any]) -> str | None:
        count = len(_listed(tool_input.get("attendees")))
        if count > ATTENDEES_NEEDING_APPROVAL:
            return f"Invites {count} people to an event (more than {ATTENDEES_NEEDING_APPROVAL})"
        return None

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        # Shown before validation may have run, so it describes the input as given rather than failing.
        attendees = [str(entry) for entry in _listed(tool_input.get("attendees"))]
        try:
            start: Any = iso(parse_when(tool_input.get("start"), "start"))
        except ToolInputError:
            start = tool_input.get("start")
        return {
            "action": "create calendar event",
            "summary": tool_input.get("summary"),
            "attendees": attendees,
            "attendee_count": len(attendees),
            "start": start,
        }

    def run(self, call: ToolCall) -> ToolResult:
        tool_input = call.input
        start, end = event_window(tool_input)
        attendees = clean_attendees(tool_input.get("attendees"))
        uid = event_uid(call.workspace_id, call.idempotency_key)
        ical = build_event(uid, tool_input, start, end, attendees, call.workspace_id)
        with open_calendar(call.workspace_id, timeout=call.seconds_left()) as connection:
            url = connection.put_event(event_name(call.workspace_id, call.idempotency_key), ical)
        output = {
            "uid": uid,
            "url": url,
            "summary": tool_input["summary"],
            "start": iso(start),
            "end": iso(end),
            "attendees": [address for _, address in attendees],
        }
        return ToolResult(
            output=output,
            shared={"calendar.event": {"uid": uid, "start": output["start"]}},
            summary=f"Scheduled {tool_input['summary']} at {output['start']}",
        )


class CalendarListEvents(Tool):
    name = "calendar.list_events"
    description = (
        "List the events on the workspace's calendar between two ISO 8601 times (default: the next 30 days), "
        "recurring events expanded."
    )
    stage = Stage.SOURCE
    capabilities = ("calendar.list_events",)
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"start": DATETIME_SCHEMA, "end": DATETIME_SCHEMA},
        "additionalProperties": False,
    }

    def run(self, call: ToolCall) -> ToolResult:
        start = parse_when(call.input["start"], "start") if call.input.get("start") else timezone.now()
        if call.input.get("end"):
            end = parse_when(call.input["end"], "end")
        else:
            end = start + timedelta(days=DEFAULT_LIST_DAYS)
        if end <= start:
            raise ToolInputError("end must be after start")
        if end - start > timedelta(days=MAX_LIST_DAYS):
            raise ToolInputError(f"List at most {MAX_LIST_DAYS} days at a time")
        with open_calendar(call.workspace_id, timeout=call.seconds_left()) as connection:
            found = connection.events(start, end)
        events = sorted((describe_event(event) for event in found), key=lambda event: (event["start"], event["uid"]))
        truncated = len(events) > MAX_LISTED_EVENTS
        events = events[:MAX_LISTED_EVENTS]
        return ToolResult(
            output={"events": events, "count": len(events), "truncated": truncated},
            summary=f"{len(events)} event(s) from {iso(start)} to {iso(end)}",
        )


class CalendarDeleteEvent(Tool):
    name = "calendar.delete_event"
    locks = "the workspace's calendar"
    description = "Delete an event from the workspace's calendar by its UID; an event that is already gone is fine."
    stage = Stage.SINK
    capabilities = ("calendar.delete_event",)
    side_effects = True
    critical = True
    rate_limit = ("caldav", "write")
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"uid": {"type": "string", "minLength": 1, "maxLength": 500}},
        "required": ["uid"],
        "additionalProperties": False,
    }

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        return [f"calendar:{workspace_id}"]

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"action": "delete calendar event", "uid": tool_input.get("uid")}

    def run(self, call: ToolCall) -> ToolResult:
        uid = str(call.input["uid"]).strip()
        if not uid:
            raise ToolInputError("uid must not be empty")
        with open_calendar(call.workspace_id, timeout=call.seconds_left()) as connection:
            deleted = connection.delete_event(uid)
        return ToolResult(
            output={"uid": uid, "deleted": deleted},
            summary=f"Deleted event {uid}" if deleted else f"Event {uid} was not on the calendar",
        )


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
