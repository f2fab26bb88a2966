"""What monitoring does in a process that serves the console (called from config/asgi.py).

In the embedded mode nothing else schedules work, so a daemon thread prunes
old monitoring rows every ORCHESTRATE_PRUNE_SECONDS (Celery beat does it in
the distributed mode). It runs only where the sweeper runs, so test servers
that turn sweeping off do not prune behind a test's back.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from monitoring import retention

logger = logging.getLogger(__name__)
_pruner: threading.Thread | None = None
_stop = threading.Event()


def server_loaded() -> None:
    global _pruner
    embedded = settings.ORCHESTRATE_RUN_MODE == "embedded" and settings.ORCHESTRATE_EMBEDDED_SWEEPER
    if not embedded or not settings.ORCHESTRATE_RETENTION_DAYS or _pruner is not None:
        return
    _pruner = threading.Thread(target=_prune_forever, name="monitoring-pruner", daemon=True)
    _pruner.start()


def _prune_forever() -> None:
    while True:
        try:
            retention.prune()
        except Exception:
            logger.exception("pruning old monitoring rows failed; trying again later")
        finally:
            connection.close()
        if _stop.wait(settings.ORCHESTRATE_PRUNE_SECONDS):
            return
