"""The one way Orchestrate talks to a CalDAV server.

The calendar tools open a `CalendarConnection` with `open_calendar()`,
which reads the connection settings (the workspace's own, else the
project's), finds the calendar or creates it, and translates failures into
the tool contract's errors, once, here:

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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import icalendar
from caldav.calendarobjectresource import CalendarObjectResource
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http
from django.conf import settings

from tenancy.models import Workspace
from tools.base import RetryableToolError, ToolError

T = TypeVar("T")

__all__ = ["CalDAVConfig", "CalendarConnection", "caldav_config", "open_calendar"]

DEFAULT_CALENDAR = "Orchestrate"
NOT_CONFIGURED = "No calendar is configured: set CALDAV_URL or the workspace's CalDAV settings"
MAX_TIMEOUT = 30.0  # seconds per request; a step's deadline may shorten it
ICS_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}


@dataclass(frozen=True)
class CalDAVConfig:
    url: str
    username: str | None
    password: str | None = field(repr=False)
    calendar: str  # a display name, or the calendar collection's URL (absolute, or a path on the server)

    @property
    def host(self) -> str:
        """The server's host[:port], for messages: no scheme, path or userinfo."""
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "(no host)"


def caldav_config(workspace_id: str) -> CalDAVConfig:
    """The connection settings for a workspace: its integrations["caldav"] over the CALDAV_* settings.

    A workspace that names its own server brings its own credentials: the
    project's password is never sent to a URL a workspace chose.
    """
    integrations = Workspace.objects.filter(pk=workspace_id).values_list("integrations", flat=True).first() or {}
    own = integrations.get("caldav") if isinstance(integrations, dict) else None
    own = own if isinstance(own, dict) else {}
    if own.get("url"):
        url, username, password = own["url"], own.get("username"), own.get("password")
    elif own.get("username"):
        url, username, password = settings.CALDAV_URL, own["username"], own.get("password")
    else:
        url, username, password = settings.CALDAV_URL, settings.CALDAV_USERNAME, settings.CALDAV_PASSWORD
    if not url:
        raise ToolError(NOT_CONFIGURED)
    if urlsplit(str(url)).scheme not in {"http", "https"}:
        raise ToolError("The CalDAV URL must start with http:// or https://")
    calendar = str(own.get("calendar") or DEFAULT_CALENDAR)
    if calendar.startswith(("http://", "https://")) and _origin(calendar) != _origin(str(url)):
        # The login goes wherever the calendar is: a calendar elsewhere would hand the credentials to that host.
        raise ToolError("The workspace's calendar URL must be on the configured CalDAV server")
    return CalDAVConfig(
        url=str(url),
        username=str(username) if username else None,
        password=str(password) if password else None,
        calendar=calendar,
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").casefold(), parts.port or {"http": 80, "https": 443}.get(parts.scheme)


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


class CalendarConnection:
    """One calendar on the server, with the few operations the tools need."""

    def __init__(self, client: DAVClient, calendar: Calendar, where: str) -> None:
        if calendar.url is None:
            raise ToolError(f"{where} gave a calendar without a URL")
        self.client = client
        self.calendar = calendar
        self.url = calendar.url
        self.where = where

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
        """Delete the event with this UID wherever it is stored; False if there was none."""
        try:
            event = _sync(self.calendar.get_event_by_uid(uid))
        except dav_error.NotFoundError:
            return False
        return _check(self.client.delete(str(event.url)), self.where, "DELETE") != 404

    def events(self, start: datetime, end: datetime) -> list[icalendar.Event]:
        """The events overlapping [start, end), recurrences expanded into one VEVENT per occurrence."""
        found: list[CalendarObjectResource] = _sync(self.calendar.search(event=True, start=start, end=end, expand=True))
        return [item.icalendar_component for item in found]


def _find_calendar(principal: Any, name: str) -> Calendar | None:
    slug = _slug(name)
    for calendar in principal.calendars():
        if calendar.get_display_name() == name or calendar.url.path.rstrip("/").rsplit("/", 1)[-1] == slug:
            return calendar
    return None


def _open(client: DAVClient, name_or_url: str) -> Calendar:
    """The configured calendar: by URL as given, else by display name, created if missing."""
    if name_or_url.startswith(("http://", "https://", "/")):
        if client.url is None:
            raise ToolError(f"No calendar server URL to open {name_or_url!r} on")
        return Calendar(client=client, url=client.url.join(name_or_url))
    principal = client.principal()
    calendar = _find_calendar(principal, name_or_url)
    if calendar is not None:
        return calendar
    try:
        return principal.make_calendar(name=name_or_url, cal_id=_slug(name_or_url))
    except dav_error.DAVError:
        # Another worker may have created it a moment ago (same collection name): look again.
        calendar = _find_calendar(principal, name_or_url)
        if calendar is None:
            raise
        return calendar


@contextmanager
def open_calendar(workspace_id: str, *, timeout: float = MAX_TIMEOUT) -> Iterator[CalendarConnection]:
    """A connection to the workspace's calendar; errors inside the block are translated too."""
    config = caldav_config(workspace_id)
    seconds = min(MAX_TIMEOUT, timeout)
    with caldav_errors(config, seconds):
        client = DAVClient(
            url=config.url,
            username=config.username,
            password=config.password,
            timeout=math.ceil(seconds),
            enable_rfc6764=False,  # a configured URL is used as given: no DNS discovery
        )
        try:
            calendar = _open(client, config.calendar)
            yield CalendarConnection(client, calendar, f"The calendar server at {config.host}")
        finally:
            client.close()
