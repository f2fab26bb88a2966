"""Refreshing MCP tool lists on a schedule, in both run modes.

Celery beat sends `tools_mcp.refresh_due` every ORCHESTRATE_MCP_REFRESH_SECONDS
(config/settings.py); in the embedded mode the server runs the same function
on a thread of its own, where the cron scheduler runs (off when
ORCHESTRATE_EMBEDDED_SCHEDULER is). Each server is claimed before it is
refreshed (`discovery.refresh_due`), so several schedulers never refresh one twice.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from tools_mcp.discovery import refresh_due

logger = logging.getLogger(__name__)
# How often the thread looks for servers due; each is refreshed once per ORCHESTRATE_MCP_REFRESH_SECONDS.
CHECK_SECONDS = 60.0
_thread: threading.Thread | None = None
_stop = threading.Event()


def _refresh_forever() -> None:
    while not _stop.is_set():
        try:
            refresh_due()
        except Exception:
            logger.exception("Refreshing the MCP servers' tools failed; trying again later")
            close_old_connections()
        finally:
            connection.close()
        _stop.wait(min(CHECK_SECONDS, settings.ORCHESTRATE_MCP_REFRESH_SECONDS))


def start_embedded_refresher() -> None:
    global _thread
    embedded = settings.ORCHESTRATE_RUN_MODE == "embedded" and settings.ORCHESTRATE_EMBEDDED_SCHEDULER
    if embedded and _thread is None:
        _thread = threading.Thread(target=_refresh_forever, name="mcp-refresh", daemon=True)
        _thread.start()
