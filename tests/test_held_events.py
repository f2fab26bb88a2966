"""A worker's step events may wait a moment to go together (to Redis, or to the embedded server's loop).

None is lost or overtaken.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from channels_redis.core import RedisChannelLayer

from orchestration import publishing
from orchestration.events import execution_group
from orchestration.publishing import publish
from tests.support.engine import redis_url


@pytest.fixture
def page(settings):
    """A channel in a run's group of a real channels-redis layer, as a run's open page has."""
    config = {"hosts": [redis_url()], "prefix": f"held-{uuid.uuid4().hex}"}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    channel_layers.backends.clear()
    execution_id, channel = str(uuid.uuid4()), f"page-{uuid.uuid4().hex}"
    async_to_sync(get_channel_layer().group_add)(execution_group(execution_id), channel)
    yield execution_id, lambda timeout: _receive(config, channel, timeout)
    async_to_sync(get_channel_layer().flush)()
    channel_layers.backends.clear()


def _receive(config: dict[str, Any], channel: str, timeout: float) -> dict[str, Any] | None:
    # A layer of its own for each wait: a layer's receive belongs to the event loop it first ran on.
    async def receive() -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(RedisChannelLayer(**config).receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(receive)()


def _step(execution_id: str, number: int) -> Any:
    return {"type": "step.updated", "execution_id": execution_id, "step_number": number, "status": "succeeded"}


@pytest.mark.services
def test_held_events_go_with_the_next_publish_that_may_not_wait_and_in_order(page, monkeypatch):
    execution_id, receive = page
    monkeypatch.setattr(publishing, "HOLD_SECONDS", 60.0)

    publish(_step(execution_id, 1), hold=True)
    publish(_step(execution_id, 2), hold=True)
    assert receive(0.3) is None

    publish({"type": "execution.updated", "execution_id": execution_id, "workspace_id": str(uuid.uuid4())})
    arrived = [receive(5.0) for _ in range(3)]
    assert [(event or {}).get("step_number", (event or {}).get("type")) for event in arrived] == [
        1,
        2,
        "execution.updated",
    ]


@pytest.mark.services
def test_a_held_event_is_sent_when_nothing_follows_it(page, monkeypatch):
    execution_id, receive = page
    monkeypatch.setattr(publishing, "HOLD_SECONDS", 0.05)

    publish(_step(execution_id, 7), hold=True)

    arrived = receive(5.0)
    assert arrived is not None
    assert arrived["step_number"] == 7


@pytest.fixture
def in_memory(settings, monkeypatch):
    """The embedded server's layer, and this test's loop as the server's (worker threads publish onto it)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "config.channel_layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield lambda loop: monkeypatch.setattr(publishing, "_server_loop", loop)
    channel_layers.backends.clear()


def test_an_embedded_workers_held_events_reach_the_page_together_in_order(in_memory, monkeypatch):
    monkeypatch.setattr(publishing, "HOLD_SECONDS", 60.0)
    execution_id = str(uuid.uuid4())

    async def run() -> tuple[dict | None, list[dict]]:
        in_memory(asyncio.get_running_loop())
        layer = get_channel_layer()
        assert layer is not None
        await layer.group_add(execution_group(execution_id), "page")
        # From a worker thread, as the engine publishes.
        await asyncio.to_thread(publish, _step(execution_id, 1), hold=True)
        await asyncio.to_thread(publish, _step(execution_id, 2), hold=True)
        try:
            early = await asyncio.wait_for(layer.receive("page"), 0.3)
        except TimeoutError:
            early = None
        run_event: Any = {"type": "execution.updated", "execution_id": execution_id, "workspace_id": "w"}
        await asyncio.to_thread(publish, run_event)
        return early, [await asyncio.wait_for(layer.receive("page"), 5) for _ in range(3)]

    early, arrived = async_to_sync(run)()

    assert early is None
    assert [event.get("step_number", event["type"]) for event in arrived] == [1, 2, "execution.updated"]


def test_an_embedded_workers_held_event_is_sent_when_nothing_follows_it(in_memory, monkeypatch):
    monkeypatch.setattr(publishing, "HOLD_SECONDS", 0.05)
    execution_id = str(uuid.uuid4())

    async def run() -> dict:
        in_memory(asyncio.get_running_loop())
        layer = get_channel_layer()
        assert layer is not None
        await layer.group_add(execution_group(execution_id), "page")
        await asyncio.to_thread(publish, _step(execution_id, 7), hold=True)
        return await asyncio.wait_for(layer.receive("page"), 5)

    assert async_to_sync(run)()["step_number"] == 7
