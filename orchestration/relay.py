"""One listener per server process for the runs whose pages are open in it.

A Channels group hands every event to every member: with K pages of a run
open, each step event is K deliveries, K handler calls and K sends, and a
fast run's events pile up faster than one process can hand them out (at 200
pages, pages fell seconds behind and the layer dropped what overflowed).

So a run's execution page does not join the run's group itself. The relay
is the only member in this process: it receives an event once and renders a
step's fragments once per language. It gathers them per run and language
(the newest row of each step, the newest progress bar) and, at most every
FRAME_SECONDS, builds one frame and sends that same text to every page of
the run in that language whose user belongs to the run's workspace (checked
in memory). With many pages open a frame takes a while to send, and the
next one waits longer (FRAME_SHARE), so the pages never take more than
a quarter of the process's time from the steps. A page that fell behind skips
states already superseded, never the final one, and never goes back. Run
and approval events (a handful per run) first send what was gathered. A
run event then sends the whole state, read from the database once per
person and language (it shows what that person may do) and the same text
to each of their pages: at 200 pages of a run, a render per page held the
final state up for tens of seconds. An
approval event, and a run event for a page still reading its catch-up
(whose state is newer), go to the page's own handler, on a task of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from channels.layers import get_channel_layer

from orchestration.events import execution_group

if TYPE_CHECKING:
    from orchestration.events import StepEvent

logger = logging.getLogger(__name__)

# How long a page gathers fragments before it sends them as one frame, at least.
FRAME_SECONDS = 0.05
# The share of the process's time a run's frames may take. Sending a frame to K pages costs time that
# grows with K (at 200 pages, 15-20 ms a frame, mostly daphne's and autobahn's work per page), and the
# engine's worker threads share the process's interpreter: after a frame that took t seconds, the run's
# next one waits long enough to keep to this share, however many pages are open. With rows built in
# Python (orchestration/step_rows.py) a quarter keeps a 50-step run with 200 pages within 1.4x of the
# run with none, and the pages' p95 near 150 ms; a half had it at 1.8x.
FRAME_SHARE = 1 / 4
# ... but never longer than this, so a page is never far behind.
MAX_FRAME_SECONDS = 0.25


def frame_delay(last_cost: float) -> float:
    """How long a run's next frame gathers, after a frame that took `last_cost` seconds."""
    return min(MAX_FRAME_SECONDS, max(FRAME_SECONDS, last_cost * (1 - FRAME_SHARE) / FRAME_SHARE))


class Watcher(Protocol):
    """What the relay needs of an open execution page."""

    execution_id: str

    @property
    def language(self) -> str: ...

    def is_member(self, workspace_id: object) -> bool: ...

    async def refuse(self, code: int = ...) -> None: ...

    async def send_frame(self, frame: str) -> None: ...

    def viewer(self) -> tuple[object, str] | None: ...

    async def render_state(self) -> str: ...

    async def send_state(self, html: str) -> None: ...

    async def dispatch(self, message: Any) -> None: ...


class _Gathered:
    """A run's step events its pages have not been sent yet: the newest of each step, the highest count."""

    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.steps: dict[int, StepEvent] = {}
        self.progress: StepEvent | None = None

    def add(self, event: StepEvent) -> None:
        self.steps[event["step_number"]] = event  # a newer state of the step replaces an older one
        counted = event.get("current_step")
        if counted is not None and (self.progress is None or counted >= self.progress.get("current_step", 0)):
            self.progress = event  # counts never go back


class RunRelay:
    def __init__(self) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self._gathered: dict[str, _Gathered] = {}
        self._framing: dict[str, asyncio.Task[None]] = {}
        # How long each run's last frame took to render and send (seconds).
        self._frame_cost: dict[str, float] = {}
        # A run's frames go out one at a time, in order (rendering one takes a moment).
        self._sending: dict[str, asyncio.Lock] = {}
        # A run's whole states go out one event after another, so a page never goes back.
        self._states: dict[str, asyncio.Lock] = {}
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
            self._gathered.pop(watcher.execution_id, None)
            self._sending.pop(watcher.execution_id, None)
            self._states.pop(watcher.execution_id, None)
            self._frame_cost.pop(watcher.execution_id, None)
            framing = self._framing.pop(watcher.execution_id, None)
            if framing is not None:
                framing.cancel()
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
        run = str(event.get("execution_id"))
        pages = list(self._watchers.get(run, ()))
        if event.get("type") != "step.updated":
            # What was gathered goes first; then the whole state, once per person and language (or by
            # the page's own handler), on tasks of their own: a run with many pages open never holds up
            # the other runs' events.
            await self.send_gathered(run)
            shared: dict[tuple[object, str], list[Watcher]] = {}
            for page in pages:
                viewer = page.viewer() if event.get("type") == "execution.updated" else None
                if viewer is not None and page.is_member(event.get("workspace_id")):
                    shared.setdefault(viewer, []).append(page)
                else:
                    self._start(page.dispatch(event))
            if shared:
                self._start(self._send_states(run, list(shared.values())))
            return
        if not pages:
            return  # the last page closed while the run's group was being left
        step_event: StepEvent = event  # type: ignore[assignment]
        # Gathered as it came, rendered when the frame goes (once per step and language, whatever
        # number of its states came meanwhile): the event's own work here is a dictionary update.
        self._gathered.setdefault(run, _Gathered(str(event["workspace_id"]))).add(step_event)
        if run not in self._framing:
            self._framing[run] = asyncio.create_task(self._send_after_a_frame(run))

    def _start(self, work: Any) -> None:
        handling = asyncio.create_task(work)
        self._handling.add(handling)
        handling.add_done_callback(self._handling.discard)

    async def _send_states(self, run: str, viewers: list[list[Watcher]]) -> None:
        """The whole state, rendered once for each person and language, to each of their pages."""
        async with self._states.setdefault(run, asyncio.Lock()):
            for pages in viewers:
                html = await pages[0].render_state()
                for page in pages:
                    if html:
                        await page.send_state(html)
                    else:  # the run is gone, or they may no longer see it
                        await page.refuse()

    async def _send_after_a_frame(self, run: str) -> None:
        await asyncio.sleep(frame_delay(self._frame_cost.get(run, 0.0)))
        self._framing.pop(run, None)
        await self.send_gathered(run)

    async def send_gathered(self, run: str) -> None:
        """One frame per language, the same text to every page of the run in that language."""
        from orchestration.consumers import step_frames

        framing = self._framing.pop(run, None)
        if framing is not None and framing is not asyncio.current_task():
            framing.cancel()
        if run not in self._watchers:
            self._gathered.pop(run, None)
            return
        async with self._sending.setdefault(run, asyncio.Lock()):
            gathered = self._gathered.pop(run, None)
            pages = self._watchers.get(run)
            if gathered is None or not pages:
                return
            started = time.monotonic()
            steps = list(gathered.steps.values())
            frames = await step_frames(steps, gathered.progress, {page.language for page in pages})
            # A page that came while the frame was rendered reads a state newer than these events.
            for page in list(self._watchers.get(run, ())):
                frame = frames.get(page.language)
                if not frame:
                    continue
                if page.is_member(gathered.workspace_id):
                    await page.send_frame(frame)
                else:
                    await page.refuse()
            self._frame_cost[run] = time.monotonic() - started


_relays: dict[int, RunRelay] = {}


def relay() -> RunRelay:
    """This event loop's relay (a server has one loop; tests may run several, one after another)."""
    loop = asyncio.get_running_loop()
    found = _relays.get(id(loop))
    if found is None or (found._receiving is not None and found._receiving.get_loop() is not loop):
        found = _relays[id(loop)] = RunRelay()
    return found
