"""The channel layers (config/channel_layers.py): in memory, its cleaning bounded; on Redis, its pool waited for."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

from config import channel_layers
from config.channel_layers import InMemoryChannelLayer, RedisChannelLayer
from tests.support.engine import redis_url


def test_it_walks_the_channels_once_a_second_however_many_events_and_pages(monkeypatch):
    monkeypatch.setattr(channel_layers, "CLEAN_SECONDS", 3600.0)  # a slow machine must not reach the next second
    walks = []
    original = ChannelsInMemoryChannelLayer._clean_expired
    monkeypatch.setattr(ChannelsInMemoryChannelLayer, "_clean_expired", lambda layer: walks.append(original(layer)))
    layer = InMemoryChannelLayer()

    async def run() -> list[dict]:
        # 200 pages, each a channel in its person's group, and one listener of the run's group.
        pages = [await layer.new_channel() for _ in range(200)]
        for page in pages:
            await layer.group_add("user.1", page)
        listener = await layer.new_channel()
        await layer.group_add("execution.run", listener)
        for number in range(100):
            await layer.group_send("execution.run", {"type": "step.updated", "step_number": number})
        return [await layer.receive(listener) for _ in range(100)]

    received = async_to_sync(run)()

    assert [message["step_number"] for message in received] == list(range(100))
    assert len(walks) == 1


def test_expired_messages_are_still_dropped(monkeypatch):
    monkeypatch.setattr(channel_layers, "CLEAN_SECONDS", 0.0)
    layer = InMemoryChannelLayer(expiry=-1)  # every message expired on arrival

    async def run() -> dict:
        channel = await layer.new_channel()
        await layer.group_add("execution.run", channel)
        await layer.group_send("execution.run", {"type": "step.updated", "step_number": 1})
        # The next receive walks the channels: the expired message goes, and its channel leaves the group.
        await layer.send(channel, {"type": "step.updated", "step_number": 2})
        try:
            return await asyncio.wait_for(layer.receive(channel), 0.2)
        except TimeoutError:
            return {}

    assert async_to_sync(run)() == {}
    assert not layer.groups.get("execution.run")


def test_a_group_message_reaches_each_member_as_its_own_copy_and_a_full_channel_misses_it():
    layer = InMemoryChannelLayer(capacity=2)

    async def run() -> tuple[list[dict], list[dict], dict]:
        await layer.group_add("execution.run", "page-a")
        await layer.group_add("execution.run", "page-b")
        for number in (1, 2):  # page b's channel is full
            await layer.send("page-b", {"type": "step.updated", "step_number": number})
        depends_on = [2]
        message = {"type": "step.updated", "step_number": 3, "depends_on": depends_on}
        layer.send_to_group_now("execution.run", message)  # as a worker thread's callback on the server's loop does
        await layer.group_send("execution.run", {"type": "step.updated", "step_number": 4})
        depends_on.append(99)  # the sender's object changes after the send
        page_a = [await layer.receive("page-a") for _ in range(2)]
        page_b = [await layer.receive("page-b") for _ in range(2)]
        return page_a, page_b, layer.channels

    page_a, page_b, channels = async_to_sync(run)()

    assert page_a == [
        {"type": "step.updated", "step_number": 3, "depends_on": [2]},
        {"type": "step.updated", "step_number": 4},
    ]
    assert [message["step_number"] for message in page_b] == [1, 2]
    assert not channels  # nothing else was waiting


@pytest.mark.services
def test_hundreds_of_pages_join_and_leave_a_group_at_the_same_moment_on_redis():
    """More group changes at once than the pool has connections (redis-py 8 refused the 101st): they wait."""
    pages = 3 * channel_layers.POOL_CONNECTIONS
    layer = RedisChannelLayer(hosts=[redis_url()], prefix=f"pool-{uuid.uuid4().hex}")

    async def receive(channel: str) -> dict | None:
        try:
            return await asyncio.wait_for(layer.receive(channel), 2.0)
        except TimeoutError:
            return None

    async def run() -> tuple[list[dict | None], list[dict | None]]:
        channels = [await layer.new_channel() for _ in range(pages)]
        try:
            await asyncio.gather(*(layer.group_add("user.1", channel) for channel in channels))
            await layer.group_send("user.1", {"type": "membership.changed", "user_id": 1})
            joined = [await receive(channel) for channel in (channels[0], channels[-1])]
            await asyncio.gather(*(layer.group_discard("user.1", channel) for channel in channels))
            await layer.group_send("user.1", {"type": "membership.changed", "user_id": 2})
            left = [await receive(channel) for channel in (channels[0], channels[-1])]
            return joined, left
        finally:
            await layer.flush()

    joined, left = async_to_sync(run)()

    assert joined == [{"type": "membership.changed", "user_id": 1}] * 2
    assert left == [None, None]
