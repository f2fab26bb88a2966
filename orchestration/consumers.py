"""Live progress over websockets: server-rendered fragments the htmx ws extension swaps in.

Two streams, one consumer each:

- `ExecutionConsumer` at /ws/executions/<uuid>/ follows one run: on connect
  it sends the whole page state (catch-up after a reconnect), then the
  pieces each event changed.
- `ExecutionListConsumer` at /ws/executions/ follows every workspace the
  user belongs to and sends list rows.

Both re-check membership on every event, not only on connect: a member
removed from a workspace stops receiving its runs at the next event. A
refused connection is accepted and then closed with 4403, so browsers (whose
ws extension retries only 1006/1012/1013) do not reconnect in a loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from orchestration.events import ApprovalEvent, ExecutionEvent, StepEvent, execution_group, workspace_group
from orchestration.fragments import (
    ACTIONS,
    ALL_PARTS,
    CONTEXT,
    MESSAGES,
    PROGRESS,
    STATUS,
    render_execution_parts,
    render_execution_row,
    visible_execution,
)
from orchestration.views.listing import belongs_on_first_page
from tenancy.models import WorkspaceMember

FORBIDDEN = 4403


def _authenticated(scope: dict[str, Any]) -> bool:
    user = scope.get("user")
    return bool(user is not None and user.is_authenticated)


@database_sync_to_async
def _can_see(user: Any, execution_id: str) -> bool:
    return visible_execution(user, execution_id) is not None


@database_sync_to_async
def _render_execution(user: Any, execution_id: str, parts: frozenset[str], steps: tuple[int, ...] = ()) -> str | None:
    """The fragments, or None when the user may no longer see the run."""
    execution = visible_execution(user, execution_id)
    if execution is None:
        return None
    return render_execution_parts(execution, user, parts, steps)


class ExecutionConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.execution_id = str(self.scope["url_route"]["kwargs"]["execution_id"])
        self.group: str | None = None
        await self.accept()
        if not _authenticated(self.scope) or not await _can_see(self.scope["user"], self.execution_id):
            await self.close(code=FORBIDDEN)
            return
        # Join before the catch-up is read, so no event falls between the two.
        self.group = execution_group(self.execution_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._push(ALL_PARTS)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def _push(self, parts: frozenset[str], steps: tuple[int, ...] = ()) -> None:
        html = await _render_execution(self.scope["user"], self.execution_id, parts, steps)
        if html is None:
            await self.disconnect(FORBIDDEN)
            await self.close(code=FORBIDDEN)
            return
        await self.send(text_data=html)

    async def execution_updated(self, event: ExecutionEvent) -> None:
        await self._push(ALL_PARTS)

    async def step_updated(self, event: StepEvent) -> None:
        await self._push(frozenset({STATUS, PROGRESS, CONTEXT, MESSAGES}), (event["step_number"],))

    async def approval_updated(self, event: ApprovalEvent) -> None:
        steps = (event["step_number"],) if event["step_number"] is not None else ()
        await self._push(frozenset({STATUS, ACTIONS}), steps)


@database_sync_to_async
def _member_workspaces(user: Any) -> list[str]:
    return [str(pk) for pk in WorkspaceMember.objects.filter(user_id=user.pk).values_list("workspace_id", flat=True)]


@database_sync_to_async
def _render_row(user: Any, execution_id: str, list_state: ListState) -> tuple[str, bool] | None:
    """The run's row and whether it is added on top (the list has not shown it), or None if the user may not see it."""
    execution = visible_execution(user, execution_id)
    if execution is None:
        return None
    new = (
        execution_id not in list_state.added
        and execution.created_at.timestamp() > list_state.since
        and belongs_on_first_page(execution, **list_state.filters)
    )
    return render_execution_row(execution, new=new), new


@dataclass
class ListState:
    """What one open list shows: its filters, when it was rendered, and the rows added to it since."""

    filters: dict[str, str]
    since: float
    added: set[str] = field(default_factory=set)

    @classmethod
    def from_query(cls, query_string: bytes) -> ListState:
        query = parse_qs(query_string.decode(errors="replace"), keep_blank_values=True)
        filters = {key: (query.get(key) or [""])[0][:200] for key in ("status", "q", "page")}
        try:
            since = float((query.get("since") or [""])[0])
        except ValueError:
            since = time.time()  # no render time given: only runs created from now on are new
        return cls(filters=filters, since=since)


class ExecutionListConsumer(AsyncWebsocketConsumer):
    """Rows of the executions list.

    The query string repeats the list's filters and page and gives the time
    it was rendered (`?status=&q=&page=&since=<epoch seconds>`): a run
    created after that, matching the filters, is added on top of page one
    once; every other row is replaced where the page has it. The event's own
    status cannot decide "new": it is read when the event is sent, and a run
    may be failed before its first event goes out.
    """

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        await self.accept()
        if not _authenticated(self.scope):
            await self.close(code=FORBIDDEN)
            return
        self.list_state = ListState.from_query(self.scope.get("query_string", b""))
        for workspace_id in await _member_workspaces(self.scope["user"]):
            group = workspace_group(workspace_id)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    async def execution_updated(self, event: ExecutionEvent) -> None:
        row = await _render_row(self.scope["user"], event["execution_id"], self.list_state)
        if row is None:  # no longer a member of that workspace: stop hearing it
            group = workspace_group(event["workspace_id"])
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined = [joined for joined in self.groups_joined if joined != group]
            if not self.groups_joined:
                await self.close(code=FORBIDDEN)
            return
        html, new = row
        if new:
            self.list_state.added.add(event["execution_id"])
        await self.send(text_data=html)

    async def step_updated(self, event: StepEvent) -> None:
        """Rows change with the run's own event, sent after every step that ends."""

    async def approval_updated(self, event: ApprovalEvent) -> None:
        """An approval changes the run's status, which arrives as execution.updated."""
