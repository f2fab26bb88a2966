"""The websocket consumers' framework: who may listen, and how a refusal looks.

`MemberConsumer` is the base of every consumer that streams a workspace's
data. On connect it authenticates the user, reads the workspaces the user
belongs to once (one query), lets the subclass decide whether it may follow
what it asked for, joins the groups the subclass names plus the user's own
`user.<id>` group, and accepts. Afterwards every event is checked against
the membership set it holds in memory (no query per event); a
`membership.changed` event (sent by orchestration.events when a membership
row is saved or deleted) makes it read the set again, and a consumer that
lost access to what it follows is closed.

One refusal idiom, whatever the reason: the connection is accepted and then
closed with a close code, because browsers report a refused handshake only
as 1006 and the htmx ws extension retries 1006 in a loop, while it gives up
on 4xxx codes.

| code | meaning |
|---|---|
| 4403 | refused: not signed in, not a member of the workspace, or no such run |
| 4404 | no websocket route at that path |

Browsers cannot set the Origin header, so `SameOriginValidator` (config/routing.py)
refuses cross-site connections before a consumer is reached.
"""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any, ClassVar, TypedDict

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from config.languages import SESSION_KEY as LANGUAGE_SESSION_KEY

REFUSED = 4403
NOT_FOUND = 4404


class MembershipChangedEvent(TypedDict):
    type: str  # "membership.changed"
    user_id: int


def user_group(user_id: object) -> str:
    return f"user.{user_id}"


@database_sync_to_async
def _memberships(user_id: int) -> dict[str, str]:
    from tenancy.models import WorkspaceMember

    return {
        str(workspace_id): role
        for workspace_id, role in WorkspaceMember.objects.filter(user_id=user_id).values_list("workspace_id", "role")
    }


class MemberConsumer(AsyncWebsocketConsumer):
    """Authenticate, check membership, one refusal idiom, join groups, check every event in memory."""

    # Whether a user who belongs to no workspace is refused (a stream of one workspace's data).
    needs_a_workspace: ClassVar[bool] = False

    memberships: dict[str, str]
    joined: list[str]

    @cached_property
    def language(self) -> str:
        """The person's language (chosen in the console, kept in the session), read once: the session
        is the one loaded when the page connected, and the relay asks every page of a run on every frame."""
        session = self.scope.get("session")
        language = session.get(LANGUAGE_SESSION_KEY) if session is not None else None
        return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE

    async def dispatch(self, message: Any) -> None:
        """Every event handled in the person's language."""
        with translation.override(self.language):
            await super().dispatch(message)

    async def connect(self) -> None:
        self.joined = []
        self.memberships = {}
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse()
            return
        self.user = user
        self.memberships = await _memberships(user.pk)
        if (self.needs_a_workspace and not self.memberships) or not await self.authorize():
            await self.refuse()
            return
        for group in [user_group(user.pk), *self.groups_to_join()]:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        await self.accept()
        await self.connected()

    async def refuse(self, code: int = REFUSED) -> None:
        """The one way a consumer says no: accept, then close with a documented code."""
        await self.leave_groups()
        if not getattr(self, "_accepted", False):
            await self.accept()
        await self.close(code=code)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self._accepted = True
        await super().accept(subprotocol, headers)

    async def leave_groups(self) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()

    async def follow(self, wanted: set[str], prefix: str) -> None:
        """Be in exactly the `wanted` groups among those named `prefix...` (after a membership change)."""
        for group in [g for g in self.joined if g.startswith(prefix) and g not in wanted]:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.joined.remove(group)
        for group in sorted(wanted - set(self.joined)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)

    def is_member(self, workspace_id: object) -> bool:
        """Whether the user belongs to the workspace, from the set held in memory."""
        return str(workspace_id) in self.memberships

    async def membership_changed(self, event: MembershipChangedEvent) -> None:
        self.memberships = await _memberships(self.user.pk)
        if not await self.still_allowed():
            await self.refuse()

    # What subclasses decide.

    async def authorize(self) -> bool:
        """Whether the user may follow what the connection asked for (membership is known)."""
        return True

    def groups_to_join(self) -> list[str]:
        return []

    async def connected(self) -> None:
        """After accepting: send the current state (the catch-up a reconnect relies on)."""

    async def still_allowed(self) -> bool:
        """After the membership set changed: whether to keep the connection."""
        return not self.needs_a_workspace or bool(self.memberships)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """What a websocket at a path no route serves gets: accepted and closed with 4404, not a server error."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=NOT_FOUND)


def as_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
