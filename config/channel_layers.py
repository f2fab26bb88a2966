"""The channel layers: Channels' in-memory layer (embedded mode) and channels-redis, each with a fix.

In memory: Channels' `InMemoryChannelLayer` walks every channel and every
group membership of the process, looking for expired ones, on each
`receive()` and each `group_send()`. Every open page is a channel and a
member of its person's group, so with K pages open each progress event cost
O(K) before it reached anyone: at 200 pages that walk was half as much
interpreter time as the engine's own work on a chain of no-op steps, in the
same process. Here the walk runs at most once every CLEAN_SECONDS. Messages
expire after a minute and memberships after a day, so doing it a second
late changes nothing a page can see. Its `group_send` also started a task
per member and its `send` built a queue it threw away on every message; a
group send here is a plain loop, also callable without awaiting
(`send_to_group_now`), which is how the engine's worker threads hand a
step's events to the server's loop in one callback (orchestration/publishing.py).

Redis: redis-py 8 gives an asyncio connection pool at most 100 connections
and refuses the next one at once (`MaxConnectionsError`). Every page joins
and leaves groups as it connects and closes, so 200 pages that came or went
together (a restarted server, the end of a benchmark) had some of their
group changes fail. The pool here makes an operation past POOL_CONNECTIONS
wait for a connection, for at most POOL_WAIT_SECONDS, so a Redis that is
gone still fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as ChannelsRedisChannelLayer
from redis.asyncio import BlockingConnectionPool

CLEAN_SECONDS = 1.0
POOL_CONNECTIONS = 100
POOL_WAIT_SECONDS = 20.0


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cleaned_at = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < CLEAN_SECONDS:
            return
        self._cleaned_at = now
        super()._clean_expired()  # type: ignore[misc]  # Channels' stubs leave the private method out

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.send_to_group_now(group, message)

    def send_to_group_now(self, group: str, message: dict[str, Any]) -> None:
        """`group_send` without awaiting: on the loop whose consumers receive (the queues are its own)."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):  # a full channel misses the message, as in Channels
                self._put(channel, message)

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            # A copy, as a layer that serialises gives: no receiver shares the sender's objects.
            queue.put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None


class RedisChannelLayer(ChannelsRedisChannelLayer):
    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])  # {"address": url, and the connection's own options}
        address = host.pop("address")
        return BlockingConnectionPool.from_url(
            address, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT_SECONDS, **host
        )
