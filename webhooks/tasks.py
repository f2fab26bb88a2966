"""Celery tasks of the distributed mode: beat ticks the cron scheduler; notifications retry here."""

from __future__ import annotations

from celery import shared_task

from webhooks import cron
from webhooks import notify as notifications


@shared_task(name="webhooks.cron_tick", ignore_result=True)
def cron_tick() -> None:
    cron.tick()


@shared_task(name="webhooks.notify", ignore_result=True)
def notify(firing_id: str, attempt: int) -> None:
    notifications.deliver(firing_id, attempt)
