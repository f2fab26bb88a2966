"""The one way a test waits for something another thread or process does.

    step = eventually(lambda: ExecutionStep.objects.filter(status="running").first(), what="a running step")

`eventually()` calls `check` until it returns something truthy and returns
that, or fails the test after `timeout` seconds saying what it waited for
(and, when `explain` is given, what it saw instead). Never a bare
`time.sleep()` loop: the deadline and the failure message are what make a
slow machine's failure readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = 0.05,
    explain: Callable[[], str] | None = None,
) -> T:
    """The first truthy result of `check()` within `timeout` seconds; an AssertionError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f"; {explain()}" if explain is not None else ""
            raise AssertionError(f"waited {timeout:g}s for {what}{detail}")
        time.sleep(interval)
