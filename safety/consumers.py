"""Live notifications for every signed-in page: the approvals badge, and the queue on its page.

Each message is an htmx out-of-band fragment for the ws extension. Every
connection gets the nav badge; only a connection opened with
`?page=approvals` (the queue page's own) also gets the queue's table body and
recent decisions, because htmx logs an error for an out-of-band fragment
whose target is not on the page.

The queue's fragments are the whole body re-rendered for this user rather
than one row added or deleted: the queue is oldest first, an approval may be
announced more than once (a redelivered step asks again), and the person who
decided has already had the row removed by their own htmx response, so a
row-level delete would miss its target. Typed comments survive the swap
(their textareas are `hx-preserve`).

Every event is checked against the user's membership of the event's
workspace before anything is sent: a person removed from a workspace stops
hearing it at once, though their connection still sits in its group.

This consumer listens to the engine's progress events, so it imports
`orchestration.events` (the event types and group names); the rest of the
safety app stays below orchestration.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from orchestration.events import ApprovalEvent, ExecutionEvent, StepEvent, workspace_group
from safety.queue import pending_count, queue_context
from tenancy.access import role_of
from tenancy.models import WorkspaceMember

UNAUTHENTICATED = 4401
QUEUE_PAGE = "approvals"


def badge(user: Any) -> str:
    return render_to_string("inc/approvals_badge.html", {"pending_approvals_count": pending_count(user)})


def queue_fragments(user: Any) -> list[str]:
    """The queue page's body and recent decisions, out of band; sent as separate
    messages because HTML parses a lone <tbody> only when it comes first."""
    context = {**queue_context(user), "oob": True}
    return [
        render_to_string("htmx/safety/body.html", context),
        render_to_string("htmx/safety/recent.html", context),
    ]


class NotificationsConsumer(AsyncWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.on_queue_page = query.get("page") == [QUEUE_PAGE]
        for workspace_id in await self._workspace_ids():
            group = workspace_group(workspace_id)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()
        for message in await self._render(None):
            await self.send(text_data=message)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def approval_updated(self, event: ApprovalEvent) -> None:
        for message in await self._render(event["workspace_id"]):
            await self.send(text_data=message)

    async def execution_updated(self, event: ExecutionEvent) -> None:
        """Runs have their own stream; nothing on these pages shows them."""

    async def step_updated(self, event: StepEvent) -> None:
        """Steps have their own stream; nothing on these pages shows them."""

    @database_sync_to_async
    def _workspace_ids(self) -> list[object]:
        return list(WorkspaceMember.objects.filter(user_id=self.user.pk).values_list("workspace_id", flat=True))

    @database_sync_to_async
    def _render(self, workspace_id: str | None) -> list[str]:
        """What to send now; nothing when the user no longer belongs to the event's workspace."""
        if workspace_id is not None and role_of(self.user, workspace_id) is None:
            return []
        messages = [badge(self.user)]
        if self.on_queue_page:
            messages += queue_fragments(self.user)
        return messages
