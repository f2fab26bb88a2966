"""The calendar integration's settings: which CalDAV server a workspace uses, and with which credentials.

A workspace's own settings (`Workspace.integrations["caldav"]`: url,
username, password, calendar; the password sealed at rest) win over the
installation's CALDAV_URL / CALDAV_USERNAME / CALDAV_PASSWORD (read in
config/settings.py). Neither configured: the workspace's built-in calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from tenancy.models import Workspace
from tools.base import ToolError

DEFAULT_CALENDAR = "Orchestrate"


@dataclass(frozen=True)
class CalDAVConfig:
    url: str
    username: str | None
    password: str | None = field(repr=False)
    calendar: str  # a display name, or the calendar collection's URL (absolute, or a path on the server)
    collection: str = ""  # the collection's name on the server when the calendar is found or made by name
    trusted: bool = False  # the administrator's server (CALDAV_URL): allowed although it may be internal

    @property
    def host(self) -> str:
        """The server's host[:port], for messages: no scheme, path or userinfo."""
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "(no host)"


def caldav_config(workspace_id: str) -> CalDAVConfig | None:
    """The connection settings for a workspace: its integrations["caldav"] over the CALDAV_* settings.

    None when no server is configured: the workspace uses its built-in calendar.
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
        return None
    if urlsplit(str(url)).scheme not in {"http", "https"}:
        raise ToolError("The CalDAV URL must start with http:// or https://")
    # The installation's server is shared by every workspace: each gets its own collection on it.
    calendar = str(own.get("calendar") or f"{DEFAULT_CALENDAR} ({workspace_id})")
    collection = "" if own.get("calendar") else f"orchestrate-{str(workspace_id).replace('-', '')}"
    if calendar.startswith(("http://", "https://")) and origin(calendar) != origin(str(url)):
        # The login goes wherever the calendar is: a calendar elsewhere would hand the credentials to that host.
        raise ToolError("The workspace's calendar URL must be on the configured CalDAV server")
    return CalDAVConfig(
        url=str(url),
        username=str(username) if username else None,
        password=str(password) if password else None,
        calendar=calendar,
        collection=collection,
        trusted=not own.get("url") and origin(str(url)) == origin(str(settings.CALDAV_URL or "")),
    )


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").casefold(), parts.port or {"http": 80, "https": 443}.get(parts.scheme)
