"""What the engine does in a process that serves the console."""

from __future__ import annotations

import asyncio

from django.conf import settings

from orchestration.engine.embedded import runtime
from orchestration.publishing import bind_server_loop

_loop_bound = False


def server_loaded() -> None:
    """At import of the ASGI app: in the embedded mode this process is also the worker,
    so start the sweeper, which resumes runs a previous server left unfinished."""
    if settings.ORCHESTRATE_RUN_MODE == "embedded" and settings.ORCHESTRATE_EMBEDDED_SWEEPER:
        runtime().start_sweeper()


def server_started() -> None:
    """On the server's event loop, with each connection; binds the loop for progress events once."""
    global _loop_bound
    if not _loop_bound:
        _loop_bound = True
        bind_server_loop(asyncio.get_running_loop())
