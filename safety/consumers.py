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

Every event is checked against the user's memberships, held in memory by
`MemberConsumer` and read again when they change, before anything is sent:
a person removed from a workspace stops hearing it at once.

This consumer listens to the engine's progress events, so it imports
`orchestration.events` (the event types and group names); the rest of the
safety app stays below orchestration.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from config.consumers import MemberConsumer
from orchestration.events import ApprovalEvent, ExecutionEvent, workspace_group
from safety.queue import pending_count, queue_context

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


class NotificationsConsumer(MemberConsumer):
    async def authorize(self) -> bool:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.on_queue_page = query.get("page") == [QUEUE_PAGE]
        return True

    def groups_to_join(self) -> list[str]:
        return [workspace_group(workspace_id) for workspace_id in self.memberships]

    async def connected(self) -> None:
        for message in await self._render():
            await self.send(text_data=message)

    async def still_allowed(self) -> bool:
        """Follow the workspaces the user belongs to now; the badge stays on every page."""
        await self.follow({workspace_group(workspace_id) for workspace_id in self.memberships}, "workspace.")
        return True

    async def approval_updated(self, event: ApprovalEvent) -> None:
        if not self.is_member(event["workspace_id"]):
            return
        for message in await self._render():
            await self.send(text_data=message)

    async def execution_updated(self, event: ExecutionEvent) -> None:
        """Runs have their own stream; nothing on these pages shows them."""

    @database_sync_to_async
    def _render(self) -> list[str]:
        messages = [badge(self.user)]
        if self.on_queue_page:
            messages += queue_fragments(self.user)
        return messages
