"""Live progress over websockets: server-rendered fragments the htmx ws extension swaps in.

Two streams, one consumer each, both `MemberConsumer`s (config/consumers.py:
authentication, the membership set held in memory, the one refusal idiom):

- `ExecutionConsumer` at /ws/executions/<uuid>/ follows one run through the
  process's relay (orchestration/relay.py: one member of the run's group per
  process, however many pages are open). On connect it sends the whole page
  state (the catch-up after a reconnect). A step event carries the step's
  state and the run's counts, so its fragments (the step's row and the
  progress bar) are rendered from the event alone: the relay gathers the
  events and, at most every `relay.FRAME_SECONDS`, renders one frame per
  run and language and sends it to every page whose user belongs to the
  run's workspace (checked in memory). A run
  event (its status changed: a handful per run) sends the whole state again,
  read from the database (once per person and language, however many pages
  they have open), so a page that missed events converges to the truth and
  always gets the final state.
- `ExecutionListConsumer` at /ws/executions/ follows every workspace the user
  belongs to and sends list rows when a run's status changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.template.loader import render_to_string
from django.utils import translation

from config.consumers import MemberConsumer
from orchestration.events import ApprovalEvent, ExecutionEvent, StepEvent, workspace_group
from orchestration.fragments import (
    ACTIONS,
    ALL_PARTS,
    STATUS,
    render_execution_parts,
    render_execution_row,
    step_view,
    visible_execution,
)
from orchestration.relay import relay
from orchestration.step_rows import step_row
from orchestration.views.listing import belongs_on_first_page

# Kept for the code that still imports it; config.consumers.REFUSED is the one code.
FORBIDDEN = 4403


def render_step_row(event: StepEvent) -> str:
    """A step's row, from its event alone (a plain object: building a model instance was a quarter of it)."""
    step = SimpleNamespace(
        execution_id=event["execution_id"],
        step_number=event["step_number"],
        agent_id=event["agent"],
        tool=event["tool"],
        status=event["status"],
        waiting_for=event["waiting_for"],
        cached=event["cached"],
        attempts=event["attempts"],
        duration_ms=event["duration_ms"],
        tokens_used=event["tokens_used"],
        error=event["error"],
        depends_on=event.get("depends_on", []),
        optional=event.get("optional", False),
        input=event.get("input", {}),
        output=event.get("output"),
    )
    return step_row(step_view(step), _run_of(event), oob=True)


def render_progress(event: StepEvent) -> str:
    """The progress bar, from the run's counts a step's end came with."""
    return render_to_string("inc/execution_progress.html", {"execution": _run_of(event), "oob": True})


def _run_of(event: StepEvent) -> SimpleNamespace:
    return SimpleNamespace(
        pk=event["execution_id"],
        workspace_id=event["workspace_id"],
        current_step=event.get("current_step"),
        total_steps=event.get("total_steps"),
    )


def render_step_frame(steps: Iterable[StepEvent], progress: StepEvent | None) -> str:
    """One frame: the rows of the steps that changed (each as its newest event has it), then the progress bar."""
    return "".join([*(render_step_row(event) for event in steps), render_progress(progress) if progress else ""])


def as_ascii(html: str) -> str:
    """The same HTML in ASCII: every other character as a character reference (`&#8212;` for an em dash).

    Daphne encodes a frame to UTF-8 once per page it goes to. A string with
    one character past ASCII takes fifty times as long to encode as one
    without (16 us against 0.3 for 20 KB), and a frame goes to every page
    of a run: at 200 pages, a fifth of a frame's sending.
    """
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode("ascii")


async def step_frames(steps: list[StepEvent], progress: StepEvent | None, languages: set[str]) -> dict[str, str]:
    """The frame in each language, rendered in one go off the event loop (templates are synchronous work)."""

    def render() -> dict[str, str]:
        frames = {}
        for language in languages:
            with translation.override(language):
                frames[language] = as_ascii(render_step_frame(steps, progress))
        return frames

    return await asyncio.get_running_loop().run_in_executor(None, render)


@database_sync_to_async
def _workspace_of(user: object, execution_id: str) -> str | None:
    execution = visible_execution(user, execution_id)
    return None if execution is None else str(execution.workspace_id)


@database_sync_to_async
def _render_execution(user: object, execution_id: str, parts: frozenset[str], steps: tuple[int, ...] = ()) -> str:
    execution = visible_execution(user, execution_id)
    return "" if execution is None else render_execution_parts(execution, user, parts, steps)


class ExecutionConsumer(MemberConsumer):
    """A run's page. It joins no run group itself: the process's relay follows the run for every page of it."""

    _backlog: list[str] | None  # frames that came while the catch-up was being read (None once caught up)
    _pushing: asyncio.Lock
    _watched = False  # followed through the relay (not when refused before)

    async def authorize(self) -> bool:
        self.execution_id = str(self.scope["url_route"]["kwargs"]["execution_id"])
        workspace_id = await _workspace_of(self.user, self.execution_id)
        self.workspace_id = workspace_id or ""
        return workspace_id is not None and self.is_member(workspace_id)

    async def connected(self) -> None:
        self._backlog = []
        self._pushing = asyncio.Lock()  # whole states go out one at a time, in the order their events came
        # Followed before the state is read, so no change falls between the two.
        await relay().watch(self)
        self._watched = True
        async with self._pushing:
            if not await self._send_state(ALL_PARTS):
                return
            # Frames that came meanwhile go after it, in order, before any later whole state: a step's
            # newest row is never older than what the catch-up read (changes are published after commit).
            backlog, self._backlog = self._backlog, None
            for frame in backlog or ():
                await self.send(text_data=frame)

    async def leave_groups(self) -> None:
        if self._watched:
            self._watched = False
            await relay().unwatch(self)
        await super().leave_groups()

    async def still_allowed(self) -> bool:
        return self.is_member(self.workspace_id)

    async def _push(self, parts: frozenset[str], steps: tuple[int, ...] = ()) -> None:
        async with self._pushing:
            await self._send_state(parts, steps)

    async def _send_state(self, parts: frozenset[str], steps: tuple[int, ...] = ()) -> bool:
        html = await _render_execution(self.user, self.execution_id, parts, steps)
        if not html:  # the run is gone, or the user may no longer see it
            await self.refuse()
            return False
        await self.send(text_data=html)
        return True

    def viewer(self) -> tuple[object, str] | None:
        """Whose whole state this page shows, in which language (pages alike get the same text);
        None while its catch-up is being read: a run event then re-reads it through the page's handler."""
        return None if self._backlog is not None else (self.user.pk, self.language)

    async def render_state(self) -> str:
        with translation.override(self.language):
            return await _render_execution(self.user, self.execution_id, ALL_PARTS)

    async def send_state(self, html: str) -> None:
        """A whole state the relay rendered for this page's person and language."""
        async with self._pushing:
            await self.send(text_data=html)

    async def send_frame(self, frame: str) -> None:
        """A frame of step rows the relay built for every page of the run in this page's language."""
        if self._backlog is not None:
            self._backlog.append(frame)
        else:
            await self.send(text_data=frame)

    async def execution_updated(self, event: ExecutionEvent) -> None:
        if not self.is_member(event["workspace_id"]):
            await self.refuse()
            return
        await self._push(ALL_PARTS)

    async def approval_updated(self, event: ApprovalEvent) -> None:
        if not self.is_member(event["workspace_id"]):
            await self.refuse()
            return
        steps = (event["step_number"],) if event["step_number"] is not None else ()
        await self._push(frozenset({STATUS, ACTIONS}), steps)


@database_sync_to_async
def _render_row(user: object, execution_id: str, list_state: ListState) -> tuple[str, bool] | None:
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


class ExecutionListConsumer(MemberConsumer):
    """Rows of the executions list.

    The query string repeats the list's filters and page and gives the time
    it was rendered (`?status=&q=&page=&since=<epoch seconds>`): a run
    created after that, matching the filters, is added on top of page one
    once; every other row is replaced where the page has it. The event's own
    status cannot decide "new": it is read when the event is sent, and a run
    may be failed before its first event goes out.
    """

    async def authorize(self) -> bool:
        self.list_state = ListState.from_query(self.scope.get("query_string", b""))
        return True

    def groups_to_join(self) -> list[str]:
        return [workspace_group(workspace_id) for workspace_id in self.memberships]

    async def still_allowed(self) -> bool:
        if not self.memberships:
            return False
        await self.follow({workspace_group(workspace_id) for workspace_id in self.memberships}, "workspace.")
        return True

    async def execution_updated(self, event: ExecutionEvent) -> None:
        if not self.is_member(event["workspace_id"]):
            return
        row = await _render_row(self.user, event["execution_id"], self.list_state)
        if row is None:
            return
        html, new = row
        if new:
            self.list_state.added.add(event["execution_id"])
        await self.send(text_data=html)

    async def approval_updated(self, event: ApprovalEvent) -> None:
        """An approval changes the run's status, which arrives as execution.updated."""
