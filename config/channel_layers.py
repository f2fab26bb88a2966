"""The channel layer of the embedded mode: Channels' in-memory layer, with its cleaning bounded.

Channels' `InMemoryChannelLayer` walks every channel and every group
membership of the process, looking for expired ones, on each `receive()` and
each `group_send()`. Every open page is a channel and a member of its
person's group, so with K pages open each progress event cost O(K) before it
reached anyone: at 200 pages that walk was half as much interpreter time as
the engine's own work on a chain of no-op steps, in the same process. Here
the walk runs at most once every CLEAN_SECONDS. Messages expire after a
minute and memberships after a day, so doing it a second late changes
nothing a page can see.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

CLEAN_SECONDS = 1.0


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
