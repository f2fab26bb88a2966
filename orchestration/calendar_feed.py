"""A workspace's ICS feed: the calendar events its runs created, for any calendar app to subscribe to.

The feed is built from the runs' own records, not from the CalDAV server:
each succeeded `calendar.create_event` step's output (uid, summary, start,
end, attendees) is an event, unless a succeeded `calendar.delete_event`
step later removed that uid. So the feed keeps working when the server is
down, and shows only what this workspace's runs did, even on a calendar
shared with others.

The feed URL is public (calendar apps cannot log in): the workspace's
random `calendar_feed_token` in it is the credential, and rotating the
token revokes every subscription.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_safe
from icalendar import Calendar, Event, vCalAddress

from orchestration.models import ExecutionStep, StepStatus
from tenancy.models import Workspace

CREATE_TOOL = "calendar.create_event"
DELETE_TOOL = "calendar.delete_event"
PRODID = "-//Orchestrate//Workspace calendar feed//EN"
CACHE_SECONDS = 300  # calendar apps poll; a deleted event should not linger for long
# Tokens come from secrets.token_urlsafe(32); anything else is answered like an unknown token, without a query.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def feed_workspace(token: str) -> Workspace | None:
    """The workspace whose feed token this is, or None: unknown and malformed tokens look the same."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None
    workspace = Workspace.objects.filter(calendar_feed_token=token).first()
    if workspace is None or not hmac.compare_digest(workspace.calendar_feed_token.encode(), token.encode()):
        return None
    return workspace


def _when(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _created_event(output: Any) -> dict[str, Any] | None:
    """The event a create step's output describes, or None if the output is not one (an older or odd row)."""
    if not isinstance(output, dict) or not output.get("uid"):
        return None
    start, end = _when(output.get("start")), _when(output.get("end"))
    if start is None:
        return None
    attendees = output.get("attendees")
    if not isinstance(attendees, list):
        attendees = []
    return {
        "uid": str(output["uid"]),
        "summary": str(output.get("summary") or ""),
        "start": start,
        "end": end if end and end > start else None,
        "attendees": [str(address) for address in attendees if isinstance(address, str) and "@" in address],
    }


def _deleted_uid(step_input: Any, output: Any) -> str | None:
    for source in (output, step_input):
        if isinstance(source, dict) and isinstance(source.get("uid"), str):
            return source["uid"].strip()
    return None


def workspace_events(workspace: Workspace) -> list[dict[str, Any]]:
    """The events this workspace's runs created and did not delete afterwards, by start time.

    Steps are replayed in the order they finished, so a delete only removes
    what was created before it.
    """
    steps: Iterable[tuple[str, Any, Any, datetime | None]] = (
        ExecutionStep.objects.filter(
            execution__workspace=workspace, status=StepStatus.SUCCEEDED, tool__in=[CREATE_TOOL, DELETE_TOOL]
        )
        .order_by(F("completed_at").asc(nulls_first=True), "execution__created_at", "step_number")
        .values_list("tool", "input", "output", "completed_at")
    )
    events: dict[str, dict[str, Any]] = {}
    for tool, step_input, output, completed_at in steps:
        if tool == CREATE_TOOL:
            event = _created_event(output)
            if event is not None:
                events[event["uid"]] = {**event, "stamp": completed_at}
        else:
            uid = _deleted_uid(step_input, output)
            if uid:
                events.pop(uid, None)
    return sorted(events.values(), key=lambda event: (event["start"], event["uid"]))


def workspace_feed(workspace: Workspace) -> bytes:
    """The workspace's events as an iCalendar document."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", workspace.name)
    calendar.add("x-published-ttl", "PT15M")  # how often subscribers should poll
    now = timezone.now().astimezone(UTC)
    for item in workspace_events(workspace):
        event = Event()
        event.add("uid", item["uid"])
        event.add("dtstamp", (item["stamp"] or now).astimezone(UTC))
        event.add("dtstart", item["start"])
        if item["end"] is not None:
            event.add("dtend", item["end"])
        event.add("summary", item["summary"])
        for address in item["attendees"]:
            attendee = vCalAddress(f"mailto:{address}")
            attendee.params["CN"] = address
            attendee.params["ROLE"] = "REQ-PARTICIPANT"
            event.add("attendee", attendee)
        calendar.add_component(event)
    return calendar.to_ical()


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The ICS feed at /calendar/<token>.ics: public, the token is the credential."""
    workspace = feed_workspace(token)
    if workspace is None:
        raise Http404("No such calendar")
    response = HttpResponse(workspace_feed(workspace), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{slugify(workspace.name) or "calendar"}.ics"'
    # The URL is a secret: no shared cache may keep the answer, and no link from it may leak it.
    response["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
