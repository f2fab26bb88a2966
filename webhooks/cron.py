"""Cron webhooks: which slots are due, and firing each exactly once.

Any number of schedulers may tick at once (the embedded thread of each
server, one or several Celery beats): a slot is claimed by one conditional
UPDATE of the webhook's `next_run_at` from the value the scheduler read, so
exactly one of them fires it; the unique (webhook, slot) of the history is a
second lock on the same door. After downtime only the latest missed slot
fires, once, and the firing records how many earlier slots were skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from webhooks.models import FiringSource, TriggerType, Webhook, WebhookExecution
from webhooks.services import SlotTaken, fire

logger = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")
# Counting missed slots stops here: a per-second schedule down for a week is "10000 or more".
MAX_COUNTED_SKIPS = 10_000


def due_slot(webhook: Webhook, now: datetime) -> tuple[datetime, int] | None:
    """The latest slot at or before `now` not fired yet, and how many earlier unfired slots it skips."""
    if webhook.next_run_at is None or webhook.next_run_at > now:
        return None
    config = webhook.trigger_config
    zone = ZoneInfo(config.get("timezone") or "UTC")
    latest = croniter(config["cron"], now.astimezone(zone) + timedelta(microseconds=1)).get_prev(datetime)
    latest = latest.astimezone(UTC)
    if latest < webhook.next_run_at:
        return None
    skipped = 0
    walker = croniter(config["cron"], webhook.next_run_at.astimezone(zone) - timedelta(microseconds=1))
    while skipped < MAX_COUNTED_SKIPS and walker.get_next(datetime).astimezone(UTC) < latest:
        skipped += 1
    return latest, skipped


def fire_if_due(webhook: Webhook, now: datetime) -> WebhookExecution | None:
    """Claim and fire the webhook's due slot; None when nothing is due or another scheduler won it."""
    due = due_slot(webhook, now)
    if due is None:
        return None
    slot, skipped = due
    zone = ZoneInfo(webhook.trigger_config.get("timezone") or "UTC")
    following = croniter(webhook.trigger_config["cron"], slot.astimezone(zone)).get_next(datetime).astimezone(UTC)
    claimed = Webhook.objects.filter(pk=webhook.pk, enabled=True, next_run_at=webhook.next_run_at).update(
        next_run_at=following, last_slot=slot
    )
    if not claimed:
        return None
    if skipped:
        logger.warning("Webhook %s: %d missed slots not replayed, firing %s", webhook.name, skipped, slot)
    try:
        return fire(
            webhook,
            {"slot": slot.isoformat(), "skipped_slots": skipped},
            source=FiringSource.CRON,
            slot=slot,
            skipped_slots=skipped,
        )
    except SlotTaken:
        return None


def tick(now: datetime | None = None) -> list[WebhookExecution]:
    """Fire every cron webhook whose slot is due; what this scheduler fired."""
    now = now or timezone.now()
    due = Webhook.objects.select_related("user", "workspace").filter(
        trigger_type=TriggerType.CRON, enabled=True, next_run_at__lte=now
    )
    fired = []
    for webhook in due:
        try:
            firing = fire_if_due(webhook, now)
        except Exception:
            logger.exception("Webhook %s: the scheduled firing failed", webhook.name)
            continue
        if firing is not None:
            fired.append(firing)
    return fired


class EmbeddedScheduler:
    """The scheduler of `make run`: a thread that ticks every ORCHESTRATE_CRON_SECONDS."""

    def __init__(self, interval: float, clock: Callable[[], datetime] = timezone.now) -> None:
        self.interval = interval
        self.clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="orchestrate-cron", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                tick(self.clock())
                self.ticks += 1
            except Exception:
                logger.exception("The cron scheduler's tick failed")
                close_old_connections()
            connection.close()
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


_scheduler: EmbeddedScheduler | None = None


def start_embedded_scheduler() -> None:
    """In the embedded mode a server runs the cron scheduler itself (Celery beat does in the distributed one)."""
    global _scheduler
    if settings.ORCHESTRATE_RUN_MODE == "embedded" and settings.ORCHESTRATE_EMBEDDED_SCHEDULER and _scheduler is None:
        _scheduler = EmbeddedScheduler(settings.ORCHESTRATE_CRON_SECONDS)
        _scheduler.start()
