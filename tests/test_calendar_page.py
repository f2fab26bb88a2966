"""The Calendar page: the current workspace's events on its built-in calendar, nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus
from tests.support.engine import wait_for


def test_it_books_on_the_built_in_calendar_and_shows_it_to_the_workspace_only(
    engine, settings, alice, charlie, workspace_a, client
):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    settings.CALDAV_URL = None
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="book a review meeting tomorrow at 10"))
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error

    client.force_login(alice)
    page = client.get("/orchestrate/calendar/").content.decode()
    assert "built-in calendar" in page
    assert "Review meeting" in page
    workspace_a.refresh_from_db()
    feed = icalendar.Calendar.from_ical(client.get(f"/calendar/{workspace_a.calendar_feed_token}.ics").content)
    [event] = feed.walk("VEVENT")
    tomorrow_10 = datetime.combine(
        datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    ).replace(hour=10)
    assert event.decoded("DTSTART") == tomorrow_10

    client.force_login(charlie)
    assert "Review meeting" not in client.get("/orchestrate/calendar/").content.decode()
