"""One listener per server process for the runs whose pages are open in it.

A Channels group hands every event to every member: with K pages of a run
open, each step event is K deliveries, K handler calls and K sends, and a
fast run's events pile up faster than one process can hand them out (at 200
pages, pages fell seconds behind and the layer dropped what overflowed).

So a run's execution page does not join the run's group itself. The relay
is the only member in this process: it receives an event once, renders a
step's fragments once per language, checks each page's membership in memory
and queues the fragments on the page. A page sends what it queued as one
frame at most every FRAME_SECONDS, keeping only the newest row of each step
and the newest progress bar: a slow page skips states that were already
superseded, never the final one, and never goes back. Run and approval
events (a handful per run) are handed to each page's own handler, on a task
of its own, which renders the whole state from the database.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from channels.layers import get_channel_layer

from orchestration.events import execution_group

if TYPE_CHECKING:
    from orchestration.consumers import StepFragments
    from orchestration.events import StepEvent

logger = logging.getLogger(__name__)

# How long a page gathers fragments before it sends them as one frame.
FRAME_SECONDS = 0.05


class Watcher(Protocol):
    """What the relay needs of an open execution page."""

    execution_id: str

    @property
    def language(self) -> str: ...

    def is_member(self, workspace_id: object) -> bool: ...

    async def refuse(self, code: int = ...) -> None: ...

    def queue_fragments(self, fragments: StepFragments) -> None: ...

    async def dispatch(self, message: Any) -> None: ...


class RunRelay:
    def __init__(self) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self._channel: str | None = None
        self._receiving: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._starting = asyncio.Lock()

    async def watch(self, watcher: Watcher) -> None:
        """Start handing the run's events to the page (join the run's group for the first page)."""
        layer = get_channel_layer()
        assert layer is not None, "CHANNEL_LAYERS is always configured"
        async with self._starting:
            if self._channel is None:
                self._channel = await layer.new_channel()
                self._receiving = asyncio.create_task(self._receive_forever(self._channel))
            pages = self._watchers.setdefault(watcher.execution_id, set())
            if not pages:
                await layer.group_add(execution_group(watcher.execution_id), self._channel)
            pages.add(watcher)

    async def unwatch(self, watcher: Watcher) -> None:
        pages = self._watchers.get(watcher.execution_id)
        if not pages or watcher not in pages:
            return
        pages.discard(watcher)
        if not pages:
            del self._watchers[watcher.execution_id]
            layer = get_channel_layer()
            if layer is not None and self._channel is not None:
                await layer.group_discard(execution_group(watcher.execution_id), self._channel)

    async def _receive_forever(self, channel: str) -> None:
        layer = get_channel_layer()
        assert layer is not None
        while True:
            try:
                event = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis slow or gone for a moment: the pages of every run depend on this loop
                logger.warning("The run relay could not receive; trying again", exc_info=True)
                await asyncio.sleep(0.1)
                continue
            try:
                await self._hand_out(event)
            except Exception:  # one bad event must not stop the pages of every run
                logger.exception("Could not hand out %s", event.get("type"))

    async def _hand_out(self, event: dict[str, Any]) -> None:
        pages = list(self._watchers.get(str(event.get("execution_id")), ()))
        if event.get("type") != "step.updated":
            # Each page reads the whole state from the database: on tasks of their own, so a run
            # with many pages open never holds up the events of the other runs of this process.
            for page in pages:
                handling = asyncio.create_task(page.dispatch(event))
                self._handling.add(handling)
                handling.add_done_callback(self._handling.discard)
            return
        from orchestration.consumers import step_fragments

        by_language: dict[str, list[Watcher]] = {}
        for page in pages:
            if page.is_member(event["workspace_id"]):
                by_language.setdefault(page.language, []).append(page)
            else:
                await page.refuse()
        step_event: StepEvent = event  # type: ignore[assignment]
        for language, readers in by_language.items():
            fragments = await step_fragments(step_event, language)
            for page in readers:
                page.queue_fragments(fragments)


_relays: dict[int, RunRelay] = {}


def relay() -> RunRelay:
    """This event loop's relay (a server has one loop; tests may run several, one after another)."""
    loop = asyncio.get_running_loop()
    found = _relays.get(id(loop))
    if found is None or (found._receiving is not None and found._receiving.get_loop() is not loop):
        found = _relays[id(loop)] = RunRelay()
    return found
