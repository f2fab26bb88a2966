"""Channels-redis's group send, from any thread, in one or two round trips to Redis.

A worker publishes a progress event per state change of every step. Through
the layer's own `group_send` that was an event loop on a thread of its own
and four round trips per event (expire the group, read it, expire the
channels, add the message), each through asyncio, beside the worker's
thread: on a chain of no-op steps it cost more than a step's statements.

This sender speaks the same protocol to the same keys (so consumers and the
relay receive through the unchanged layer), for several events at once (a
step's end and the start of the step its worker goes on with): one
pipelined round trip reads the groups' members, and only when there are
some, a second one adds each message to each member's channel, expiring old
messages and keeping the capacity inside a script. It runs in the caller's
thread with a short socket timeout: a publish must never hold a step up for long.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

# For each channel key: drop messages older than the expiry, add the message unless the channel is
# full, keep the key for the expiry. KEYS: channel keys; ARGV: messages, capacities, then the time
# (the score, passed on as text as the layer does, so no precision is lost), the oldest score kept
# and the expiry in seconds.
_ADD_TO_CHANNELS = """
local over_capacity = 0
local now = ARGV[#ARGV - 2]
local oldest = ARGV[#ARGV - 1]
local expiry = ARGV[#ARGV]
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, oldest)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""

# Seconds a publish may wait for Redis before the event is dropped (progress is best effort).
SOCKET_TIMEOUT = 1.0


class GroupSender:
    """Sends to the groups of a `channels_redis.core.RedisChannelLayer`, without an event loop."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self._clients: dict[int, redis.Redis] = {}
        self._lock = threading.Lock()

    def _client(self, index: int) -> redis.Redis:
        with self._lock:
            client = self._clients.get(index)
            if client is None:
                host = dict(self.layer.hosts[index])
                address = host.pop("address")
                options = {**host, "socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": SOCKET_TIMEOUT}
                client = self._clients[index] = redis.Redis.from_url(address, **options)
            return client

    def group_send_all(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """Each (group, message), in order: one round trip reads the groups, one more adds the messages."""
        layer = self.layer
        groups = list(dict.fromkeys(group for group, _ in sends))
        members: dict[str, list[str]] = {}
        for index, on_host in _by_host(groups, layer.consistent_hash).items():
            pipe = self._client(index).pipeline(transaction=False)
            for group in on_host:
                key = layer._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=int(time.time()) - layer.group_expiry)
                pipe.zrange(key, 0, -1)
            answers = pipe.execute()
            for position, group in enumerate(on_host):
                members[group] = [member.decode("utf8") for member in answers[2 * position + 1]]
        additions: dict[int, list[tuple[list[Any], list[Any]]]] = {}
        now = 0.0
        for group, message in sends:
            if not members[group]:
                continue
            # The layer's own mapping: one serialised message per channel key, naming its channels.
            by_connection, messages, capacities = layer._map_channel_keys_to_connection(members[group], message)
            # Strictly increasing scores: a channel hands its messages out in score order.
            now = max(time.time(), now + 1e-6)
            for index, channel_keys in by_connection.items():
                args = [messages[k] for k in channel_keys] + [capacities[k] for k in channel_keys]
                args += [repr(now), int(now) - int(layer.expiry), int(layer.expiry)]
                additions.setdefault(index, []).append((channel_keys, args))
        for index, scripts in additions.items():
            pipe = self._client(index).pipeline(transaction=False)
            for channel_keys, args in scripts:
                # EVAL, not EVALSHA: a pipeline with a registered script asks Redis for it on every run.
                pipe.eval(_ADD_TO_CHANNELS, len(channel_keys), *channel_keys, *args)
            pipe.execute()


def _by_host(groups: list[str], host_of: Any) -> dict[int, list[str]]:
    hosts: dict[int, list[str]] = {}
    for group in groups:
        hosts.setdefault(host_of(group), []).append(group)
    return hosts
