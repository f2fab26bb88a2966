"""Publishing progress events (orchestration/events.py): in order, held a moment, to either layer.

With channels-redis the publishing thread sends them itself
(orchestration/group_send.py). With the in-memory layer (embedded mode)
they are handed to the server's event loop, whose queues the consumers
wait on. In both modes a step's events may wait HOLD_SECONDS to go with the
next ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import transaction
from django.db.models import F

from config.channel_layers import InMemoryChannelLayer
from orchestration.events import (
    MembershipChanged,
    ProgressEvent,
    execution_event,
    groups_of,
    step_event,
)
from orchestration.group_send import GroupSender
from orchestration.models import Execution, ExecutionStep
from tenancy.models import WorkspaceMember

logger = logging.getLogger(__name__)


_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the ASGI server's event loop.

    The in-memory channel layer (embedded mode) keeps asyncio queues that
    belong to the server's loop; worker threads must hand their sends to
    that loop rather than run them on a loop of their own, or consumers
    waiting on those queues may never wake.
    """
    global _server_loop
    _server_loop = loop


async def _send_all(events: list[ProgressEvent | MembershipChanged]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for event in events:
        for group in groups_of(event):
            await layer.group_send(group, dict(event))


class _Outbox:
    """Events handed from worker threads to the server's loop (the in-memory layer), sent in order.

    A publish is one callback on the loop, whatever number of events it
    carries, and the callback puts them in the members' queues there and then:
    a worker thread hands them over and goes on, callbacks run in the order
    they were scheduled, and the loop does not run a task per event or per
    member (at one page open, that had made a chain of no-op steps half as
    slow again as with none).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def put(self, events: list[ProgressEvent | MembershipChanged]) -> Future[None]:
        sent: Future[None] = Future()
        self.loop.call_soon_threadsafe(self._send, events, sent)
        return sent

    def _send(self, events: list[ProgressEvent | MembershipChanged], sent: Future[None]) -> None:
        layer = get_channel_layer()
        try:
            if not isinstance(layer, InMemoryChannelLayer):  # a layer configured by hand: its own way, in a task
                self.loop.create_task(_send_all(events))
                return
            for event in events:
                for group in groups_of(event):
                    layer.send_to_group_now(group, dict(event))
        except Exception:  # a dropped progress event must not stop the others
            logger.exception("Could not publish %s", ", ".join(event["type"] for event in events))
        finally:
            sent.set_result(None)


_outboxes: dict[int, _Outbox] = {}
_senders_lock = threading.Lock()
_senders: dict[int, GroupSender] = {}


def _sender(layer: RedisChannelLayer) -> GroupSender:
    with _senders_lock:
        sender = _senders.get(id(layer))
        if sender is None or sender.layer is not layer:
            sender = _senders[id(layer)] = GroupSender(layer)
        return sender


def _outbox(loop: asyncio.AbstractEventLoop) -> _Outbox:
    with _senders_lock:
        outbox = _outboxes.get(id(loop))
        if outbox is None or outbox.loop is not loop:
            outbox = _outboxes[id(loop)] = _Outbox(loop)
        return outbox


_local = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's own loop for in-memory sends, kept (async_to_sync would start a thread per call)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def _has_listeners(event: ProgressEvent | MembershipChanged) -> bool:
    """Whether anyone in this process listens (the in-memory layer has nobody else to tell).

    With nobody, the event is not handed to the server's loop at all. A page
    that opens a moment later misses nothing: it joins its groups first and
    reads the state after (changes are published after they commit).
    """
    layer = get_channel_layer()
    groups = getattr(layer, "groups", None)
    if layer is None or not isinstance(groups, dict):
        return True
    return any(groups.get(group) for group in groups_of(event))


# Held from reading a row to handing its event over, so two threads of this
# process that publish the same run's changes cannot overtake each other.
_in_order = threading.RLock()

# How long a worker may hold its steps' events back. On a quick chain a step lasts a millisecond or
# two: its events then go with those of the next steps, in one round trip to Redis (or one callback on
# the server's loop, embedded) for several steps instead of one each, and a page sees them at most
# this much later.
HOLD_SECONDS = 0.02


class _HeldBack:
    """Step events held back (`publish(..., hold=True)`), sent together, in order.

    The publishing thread sends them with a later publish once the oldest
    waited HOLD_SECONDS, or at once with any publish that may not wait (a
    run's own events, events before steps go to other workers); a thread of
    the process sends them when nothing else publishes in time (a worker
    gone idle, or into a long tool call). All under `_in_order`.
    """

    def __init__(self) -> None:
        self.events: list[ProgressEvent | MembershipChanged] = []
        self.since = 0.0
        self.wake = threading.Condition(_in_order)
        self.sender_pid: int | None = None

    def add(self, events: list[ProgressEvent | MembershipChanged], *, hold: bool) -> Future[None] | None:
        was_empty = not self.events
        if was_empty:
            self.since = time.monotonic()
        self.events += events
        if hold and time.monotonic() - self.since < HOLD_SECONDS:
            self._ensure_sender()
            if was_empty:
                self.wake.notify()
            return None
        return self.send()

    def send(self) -> Future[None] | None:
        events, self.events = self.events, []
        return _deliver(events) if events else None

    def _ensure_sender(self) -> None:
        if self.sender_pid != os.getpid():  # a forked worker child starts its own
            self.sender_pid = os.getpid()
            threading.Thread(target=self._send_when_due, name="progress-events", daemon=True).start()

    def _send_when_due(self) -> None:
        with _in_order:
            while True:
                due = self.since + HOLD_SECONDS - time.monotonic()
                if not self.events or due > 0:
                    self.wake.wait(due if self.events else None)
                    continue
                count = len(self.events)
                try:
                    self.send()
                except Exception:  # a dropped progress event must not stop the next ones
                    logger.exception("Could not publish %d held progress events", count)
                finally:
                    self.events = []


_held_back = _HeldBack()


def send_held_events() -> None:
    """Send the step events this process still holds back (a worker process that exits)."""
    with _in_order, contextlib.suppress(Exception):
        _held_back.send()


def publish(*events: ProgressEvent | MembershipChanged, hold: bool = False) -> Future[None] | None:
    """Send the events, in order, to their groups; never fail nor hold up the caller.

    With `hold` (a step's events) they may wait up to HOLD_SECONDS to go with
    later ones; any publish without it sends what waits first. Returns, when
    the events wait in an outbox, a future done once the last was sent: the
    engine waits for it before sending the steps a finished step made ready,
    so no page hears of step n+1 before step n ended.
    """
    with _in_order:
        try:
            if not isinstance(get_channel_layer(), RedisChannelLayer) and not _server_loop_running():
                hold = False  # no server in this process (a command, a test): nothing to gather for
            return _held_back.add(list(events), hold=hold)
        except Exception:  # a dropped progress event must not fail a run
            logger.exception("Could not publish %s", ", ".join(event["type"] for event in events))
            return None


def _server_loop_running() -> bool:
    return _server_loop is not None and _server_loop.is_running()


def _deliver(events: list[ProgressEvent | MembershipChanged]) -> Future[None] | None:
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        # From this thread, several events in one go (orchestration/group_send.py).
        _sender(layer).group_send_all([(group, dict(event)) for event in events for group in groups_of(event)])
        return None
    return _publish_in_memory([event for event in events if _has_listeners(event)])


def _publish_in_memory(events: list[ProgressEvent | MembershipChanged]) -> Future[None] | None:
    if not events:
        return None
    if _server_loop_running():
        assert _server_loop is not None
        return _outbox(_server_loop).put(events)
    _thread_loop().run_until_complete(_send_all(events))
    return None


def wait_sent(sent: Future[None] | None, timeout: float = 5.0) -> None:
    """Wait (a bounded time) until an event handed to an outbox was sent."""
    if sent is not None:
        with contextlib.suppress(Exception):
            sent.result(timeout=timeout)


def publish_membership_changed(user_id: int) -> None:
    """Tell the user's open consumers to read their memberships again (after the change commits)."""
    transaction.on_commit(lambda: publish({"type": "membership.changed", "user_id": user_id}))


def membership_saved_or_deleted(sender: object, instance: WorkspaceMember, **kwargs: object) -> None:
    """Receiver of WorkspaceMember's post_save and post_delete (connected in OrchestrationConfig.ready())."""
    publish_membership_changed(instance.user_id)


def publish_approval(approval_id: uuid.UUID | str) -> None:
    from safety.models import PendingApproval

    with _in_order:
        approval = PendingApproval.objects.select_related("execution", "step").filter(pk=approval_id).first()
        if approval is None:
            return
        publish(
            {
                "type": "approval.updated",
                "approval_id": str(approval.pk),
                "execution_id": str(approval.execution_id),
                "workspace_id": str(approval.execution.workspace_id),
                "step_number": approval.step.step_number if approval.step else None,
                "action_type": approval.action_type,
                "status": approval.status,
            }
        )


def publish_execution(execution_id: uuid.UUID | str) -> None:
    with _in_order:
        execution = Execution.objects.filter(pk=execution_id).defer("plan", "result", "request").first()
        if execution is not None:
            publish(execution_event(execution))


def publish_first(
    execution_id: uuid.UUID | str, *, step_id: uuid.UUID | str | None = None, written: Execution | None = None
) -> None:
    """Publish the step's and the run's state once this transaction commits, before the work it hands over.

    Call it inside the transaction, before enqueueing: commit hooks run in
    the order given, so these events are sent before another process can take
    the run on and publish a later state. Published after the hand-over, they
    could reach the pages after that later state, and the pages would go back.
    `written`: the run's row as this transaction created it, published as it
    is instead of read again.
    """

    def send() -> None:
        if step_id is not None:
            publish_step(step_id)
        if written is not None:
            publish(execution_event(written))
        else:
            publish_execution(execution_id)

    transaction.on_commit(send, robust=True)


def publish_step(step_id: uuid.UUID | str) -> None:
    with _in_order:
        step = ExecutionStep.objects.filter(pk=step_id).annotate(workspace_id=F("execution__workspace_id")).first()
        if step is not None:
            publish(step_event(step, step.workspace_id))
