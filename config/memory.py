"""What a long-running process does with the memory its start made."""

from __future__ import annotations

import gc


def freeze_startup_objects(**signal: object) -> None:
    """Keep what loading the app made out of the garbage collector's full passes.

    Modules, settings, URL patterns and compiled templates live as long as
    the process, yet a full collection walks every one of them: in a server
    with the app loaded that took about 150 ms, landing in the middle of a
    run's steps (seen with `gc.callbacks` under bench/websockets.py). Frozen
    objects are skipped by later collections (5 ms), and a forked worker
    shares their memory pages instead of copying them. (A receiver of
    Celery's worker_process_init too, hence `signal`.)
    """
    gc.collect()
    gc.freeze()
