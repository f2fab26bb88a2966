"""The one way Orchestrate reaches a workspace's calendar: CalDAV, or the built-in calendar.

The calendar tools open a connection with `open_calendar()`. With no CalDAV
server configured (no CALDAV_URL and no workspace settings) that is the
workspace's built-in calendar (`BuiltinCalendar`, events in the database).
Otherwise it reads the connection settings (the workspace's own, else the
project's, `tools.integrations.calendar.settings`), finds the workspace's calendar collection or creates it, and
translates failures into the tool contract's errors, once, here.

Every workspace has its own calendar, never shared: on a server configured
for the whole installation each workspace gets its own collection
(`orchestrate-<workspace id>`, created on first use), and every event
carries the workspace it was made for (X-ORCHESTRATE-WORKSPACE), so listing
and deleting only ever touch events that workspace created, even on a
calendar a workspace points at itself.

Connections go through the SSRF guard (`tools.ssrf`) like the web tools:
the server's name is resolved and checked first, and the HTTP session then
connects to exactly the checked addresses and follows no redirects. The
server configured in CALDAV_URL by the administrator is allowed explicitly
(it is often on the local network); a URL a workspace sets must be public
unless it is listed in WEB_ALLOWED_HOSTS.

Errors:

- connection errors, timeouts, 429 and 5xx are `RetryableToolError` (the
  engine retries with backoff);
- 401/403 are `ToolError`s that point at the credentials;
- any other refusal is a `ToolError`.

Messages name the server by host only and never carry the password (which
may also sit in a URL's userinfo).
"""

from __future__ import annotations

import math
import re
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import icalendar
from caldav.calendarobjectresource import CalendarObjectResource
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http

from tools.base import RetryableToolError, ToolError
from tools.integrations.calendar.settings import CalDAVConfig, caldav_config
from tools.models import CalendarEvent
from tools.ssrf import BlockedAddress, IPAddress, resolve, resolve_public

T = TypeVar("T")

__all__ = [
    "WORKSPACE_PROPERTY",
    "BuiltinCalendar",
    "CalendarConnection",
    "calendar_backend",
    "open_calendar",
]

# The property that says which workspace an event was made for.
WORKSPACE_PROPERTY = "X-ORCHESTRATE-WORKSPACE"
MAX_TIMEOUT = 30.0  # seconds per request; a step's deadline may shorten it
ICS_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}


@contextmanager
def caldav_errors(config: CalDAVConfig, timeout: float) -> Iterator[None]:
    """Turn the HTTP library's and caldav's exceptions into the tool contract's errors."""
    where = f"The calendar server at {config.host}"
    try:
        yield
    except dav_error.AuthorizationError as exc:
        user = f" for user {config.username!r}" if config.username else " (no username is set)"
        if exc.status == 403:
            raise ToolError(
                f"{where} refused access{user}: check the CalDAV credentials and the calendar's permissions"
            ) from None
        raise ToolError(
            f"{where} rejected the credentials{user}: check CALDAV_USERNAME/CALDAV_PASSWORD "
            "or the workspace's CalDAV settings"
        ) from None
    except BlockedAddress as exc:
        raise ToolError(f"{where} may not be reached: {exc}") from None
    except http.exceptions.TooManyRedirects:
        raise ToolError(f"{where} answered with a redirect: set the CalDAV URL to where it points") from None
    except dav_error.RateLimitError:
        raise RetryableToolError(f"{where} is rate limiting requests") from None
    except dav_error.DAVError as exc:
        raise _status_error(where, exc.status, type(exc).__name__) from None
    except http.exceptions.Timeout:
        raise RetryableToolError(f"{where} did not answer within {timeout:g} seconds") from None
    except (http.exceptions.RequestException, OSError) as exc:
        # The library's message may repeat the URL, userinfo and all: say only what kind of failure it was.
        raise RetryableToolError(f"Could not reach {where[0].lower()}{where[1:]} ({type(exc).__name__})") from None


def _status_error(where: str, status: int | None, what: str) -> ToolError:
    if status is None or status >= 500:
        return RetryableToolError(f"{where} failed ({what}, HTTP {status or 'error'})")
    if status == 404:
        return ToolError(f"{where} has no CalDAV service or calendar at the configured URL ({what}, HTTP 404)")
    return ToolError(f"{where} refused the request ({what}, HTTP {status})")


def _check(response: Any, where: str, action: str) -> int:
    """The status of a raw request's response; anything but 2xx (and 404, left to the caller) raises."""
    status = int(response.status)
    if status == 404 or 200 <= status < 300:
        return status
    if status in {401, 403}:
        raise dav_error.AuthorizationError(reason=action, status=status)
    raise _status_error(where, status, action)


def _slug(name: str) -> str:
    """A calendar's collection name from its display name, so every worker creates the same one."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "calendar"


def _sync(value: T | Coroutine[Any, Any, T]) -> T:
    """caldav types its calls for its sync and async clients at once; ours is the sync one."""
    assert not isinstance(value, Coroutine), "the sync DAVClient returned a coroutine"
    return value


def made_for(event: icalendar.Event, workspace_id: str) -> bool:
    """Whether the event was created for this workspace (by its X-ORCHESTRATE-WORKSPACE property)."""
    return str(event.get(WORKSPACE_PROPERTY, "")) == str(workspace_id)


class CalendarConnection:
    """One calendar on the server, with the few operations the tools need."""

    def __init__(self, client: DAVClient, calendar: Calendar, where: str, workspace_id: str) -> None:
        if calendar.url is None:
            raise ToolError(f"{where} gave a calendar without a URL")
        self.client = client
        self.calendar = calendar
        self.url = calendar.url
        self.where = where
        self.workspace_id = str(workspace_id)

    def event_url(self, name: str) -> str:
        return str(self.url.join(f"{name}.ics"))

    def public_url(self, url: str) -> str:
        """The URL without userinfo: a calendar configured as https://user:password@host/... must not leak."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        return urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))

    def put_event(self, name: str, ical: bytes) -> str:
        """Store the calendar object at `<calendar>/<name>.ics`, replacing what was there; returns its URL.

        Writing to a fixed URL is what makes creation idempotent: a second
        PUT of the same UID overwrites the event instead of adding another.
        """
        url = self.event_url(name)
        response = self.client.put(url, ical.decode("utf-8"), headers=ICS_HEADERS)
        if _check(response, self.where, "PUT") == 404:
            raise ToolError(f"{self.where} has no calendar at {self.url.path}")
        return self.public_url(url)

    def delete_event(self, uid: str) -> bool:
        """Delete this workspace's event with this UID; False if there was none.

        An event another workspace (or a person) made is refused, never deleted.
        """
        try:
            event = _sync(self.calendar.get_event_by_uid(uid))
        except dav_error.NotFoundError:
            return False
        if not made_for(event.icalendar_component, self.workspace_id):
            raise ToolError(f"The event {uid} was not created by this workspace; it was left alone")
        return _check(self.client.delete(str(event.url)), self.where, "DELETE") != 404

    def events(self, start: datetime, end: datetime) -> list[icalendar.Event]:
        """This workspace's events overlapping [start, end), recurrences expanded into one VEVENT each."""
        found: list[CalendarObjectResource] = _sync(self.calendar.search(event=True, start=start, end=end, expand=True))
        events = [item.icalendar_component for item in found]
        return [event for event in events if made_for(event, self.workspace_id)]


class BuiltinCalendar:
    """A workspace's own calendar in the database, when no CalDAV server is configured.

    The same operations as `CalendarConnection`, with the same idempotency
    (an event is stored under its name, so storing it again replaces it).
    """

    where = "The built-in calendar"

    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = str(workspace_id)

    def put_event(self, name: str, ical: bytes) -> str:
        event = _single_event(ical)
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        CalendarEvent.objects.update_or_create(
            workspace_id=self.workspace_id,
            name=name,
            defaults={
                "uid": str(event.get("uid")),
                "summary": str(event.get("summary", ""))[:255],
                "starts_at": start,
                "ends_at": end,
                "ical": ical.decode("utf-8"),
            },
        )
        return f"/orchestrate/calendar/#{name}"

    def delete_event(self, uid: str) -> bool:
        deleted, _ = CalendarEvent.objects.filter(workspace_id=self.workspace_id, uid=uid).delete()
        return deleted > 0

    def events(self, start: datetime, end: datetime) -> list[icalendar.Event]:
        rows = CalendarEvent.objects.filter(workspace_id=self.workspace_id, starts_at__lt=end, ends_at__gt=start)
        return [_single_event(row.ical.encode("utf-8")) for row in rows.order_by("starts_at", "uid")]


def _single_event(ical: bytes) -> icalendar.Event:
    events = icalendar.Calendar.from_ical(ical).walk("VEVENT")
    if len(events) != 1 or not isinstance(events[0], icalendar.Event):
        raise ToolError("A calendar object must hold exactly one event")
    return events[0]


def calendar_backend(workspace_id: str) -> str:
    """ "caldav" or "builtin": where this workspace's events go."""
    return "caldav" if caldav_config(workspace_id) is not None else "builtin"


def _find_calendar(principal: Any, name: str, collection: str) -> Calendar | None:
    slug = collection or _slug(name)
    for calendar in principal.calendars():
        if calendar.url.path.rstrip("/").rsplit("/", 1)[-1] == slug:
            return calendar
        # A calendar named by its display name (a workspace's own setting); never for the per-workspace default.
        if not collection and calendar.get_display_name() == name:
            return calendar
    return None


def _open(client: DAVClient, config: CalDAVConfig) -> Calendar:
    """The configured calendar: by URL as given, else found by name, created if missing."""
    name_or_url = config.calendar
    if name_or_url.startswith(("http://", "https://", "/")):
        if client.url is None:
            raise ToolError(f"No calendar server URL to open {name_or_url!r} on")
        return Calendar(client=client, url=client.url.join(name_or_url))
    principal = client.principal()
    calendar = _find_calendar(principal, name_or_url, config.collection)
    if calendar is not None:
        return calendar
    try:
        return principal.make_calendar(name=name_or_url, cal_id=config.collection or _slug(name_or_url))
    except dav_error.DAVError:
        # Another worker may have created it a moment ago (same collection name): look again.
        calendar = _find_calendar(principal, name_or_url, config.collection)
        if calendar is None:
            raise
        return calendar


def _checked_addresses(config: CalDAVConfig) -> tuple[str, list[IPAddress]]:
    """The server's host and the addresses it may be reached at, checked by the SSRF guard."""
    parts = urlsplit(config.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # The administrator's own server may be internal; anything a workspace chose must be public.
    return host, resolve(host, port) if config.trusted else resolve_public(host, port)


def _pinned_session(host: str, addresses: list[IPAddress]) -> Any:
    """An HTTP session that connects to exactly these addresses for `host` and follows no redirect."""
    if any(host == str(address) for address in addresses):
        session = http.Session()
    else:
        records = ",".join(f"{host}:{address}" for address in addresses)
        session = http.Session(resolver=f"in-memory://default/?hosts={records}")
    session.max_redirects = 0
    return session


@contextmanager
def open_calendar(workspace_id: str, *, timeout: float = MAX_TIMEOUT) -> Iterator[CalendarConnection | BuiltinCalendar]:
    """A connection to the workspace's calendar; errors inside the block are translated too."""
    config = caldav_config(workspace_id)
    if config is None:
        yield BuiltinCalendar(workspace_id)
        return
    seconds = min(MAX_TIMEOUT, timeout)
    with caldav_errors(config, seconds):
        host, addresses = _checked_addresses(config)
        client = DAVClient(
            url=config.url,
            username=config.username,
            password=config.password,
            timeout=math.ceil(seconds),
            enable_rfc6764=False,  # a configured URL is used as given: no DNS discovery
        )
        client.session.close()
        client.session = _pinned_session(host, addresses)
        try:
            calendar = _open(client, config)
            yield CalendarConnection(client, calendar, f"The calendar server at {config.host}", workspace_id)
        finally:
            client.close()
