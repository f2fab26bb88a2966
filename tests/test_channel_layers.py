"""The embedded mode's channel layer: Channels' in-memory layer with its cleaning bounded (config/channel_layers.py)."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

from config import channel_layers
from config.channel_layers import InMemoryChannelLayer


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
