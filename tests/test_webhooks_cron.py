"""Cron webhooks: each slot fires exactly once whatever the number of schedulers, missed slots are not replayed."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orchestration.models import Execution
from tests.support.engine import CeleryProcess, use_celery, wait_until_idle
from webhooks.cron import EmbeddedScheduler, tick
from webhooks.models import Webhook, WebhookExecution
from webhooks.services import create_webhook, update_webhook

NOOP_PLAN = {"steps": [{"number": 1, "tool": "test.noop", "input": {"value": {"$payload": "slot"}}}]}


def _cron(user, workspace, expression, zone="UTC", name="Every minute") -> Webhook:
    created = create_webhook(
        user,
        workspace,
        name=name,
        trigger_type="cron",
        trigger_config={"cron": expression, "timezone": zone},
        action_config={"request": "Scheduled report {{ payload.slot }}", "plan": NOOP_PLAN},
    )
    return created.webhook


class Clock:
    """The schedulers' time source, moved by the test a minute at a time."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


@pytest.mark.usefixtures("engine")  # the runs it fires finish before the tables are flushed under them
def test_it_fires_each_minute_exactly_once_with_two_embedded_schedulers(alice, workspace_a):
    webhook = _cron(alice, workspace_a, "* * * * *")
    first_slot = webhook.next_run_at
    clock = Clock(first_slot - timedelta(seconds=1))
    schedulers = [EmbeddedScheduler(0.02, clock), EmbeddedScheduler(0.02, clock)]
    for scheduler in schedulers:
        scheduler.start()
    try:
        for minute in range(3):
            clock.set(first_slot + timedelta(minutes=minute, seconds=1))
            ticks_before = [scheduler.ticks for scheduler in schedulers]
            # Both schedulers tick several times within the minute: each slot is contested.
            deadline = time.monotonic() + 20
            while any(s.ticks < before + 5 for s, before in zip(schedulers, ticks_before, strict=True)):
                assert time.monotonic() < deadline, "the schedulers stopped ticking"
                time.sleep(0.02)
    finally:
        for scheduler in schedulers:
            scheduler.stop()

    firings = list(WebhookExecution.objects.filter(webhook=webhook).order_by("slot"))
    assert [firing.slot for firing in firings] == [first_slot + timedelta(minutes=n) for n in range(3)]
    assert all(firing.success and firing.skipped_slots == 0 for firing in firings)
    assert Execution.objects.count() == 3
    assert {execution.request for execution in Execution.objects.all()} == {
        f"Scheduled report {(first_slot + timedelta(minutes=n)).isoformat()}" for n in range(3)
    }


@pytest.mark.django_db
def test_it_fires_only_the_latest_missed_slot_and_counts_the_skipped(alice, workspace_a):
    webhook = _cron(alice, workspace_a, "* * * * *")
    first_slot = webhook.next_run_at
    back_up_at = first_slot + timedelta(minutes=10, seconds=5)

    fired = tick(back_up_at)
    again = tick(back_up_at + timedelta(seconds=30))

    assert len(fired) == 1
    assert fired[0].slot == first_slot + timedelta(minutes=10)
    assert fired[0].skipped_slots == 10
    assert fired[0].trigger_payload["skipped_slots"] == 10
    assert again == []
    webhook.refresh_from_db()
    assert webhook.next_run_at == first_slot + timedelta(minutes=11)
    assert webhook.last_slot == first_slot + timedelta(minutes=10)


@pytest.mark.django_db
def test_it_schedules_in_the_webhooks_time_zone(alice, workspace_a):
    webhook = _cron(alice, workspace_a, "0 9 * * *", zone="Europe/Paris", name="Paris nine")
    assert webhook.next_run_at.astimezone(ZoneInfo("Europe/Paris")).time() == dt_time(9, 0)
    webhook.next_run_at = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # 09:00 in Paris in winter
    webhook.save(update_fields=["next_run_at"])
    assert tick(datetime(2026, 1, 15, 7, 59, 59, tzinfo=UTC)) == []
    fired = tick(datetime(2026, 1, 15, 8, 0, 1, tzinfo=UTC))
    assert [firing.slot for firing in fired] == [datetime(2026, 1, 15, 8, 0, tzinfo=UTC)]
    webhook.refresh_from_db()
    assert webhook.next_run_at == datetime(2026, 1, 16, 8, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_it_does_not_fire_a_disabled_schedule_nor_replay_it_when_enabled_again(alice, workspace_a):
    webhook = _cron(alice, workspace_a, "* * * * *")
    update_webhook(webhook, alice, enabled=False)
    assert tick(timezone.now() + timedelta(minutes=5)) == []

    update_webhook(webhook, alice, enabled=True)
    webhook.refresh_from_db()

    assert webhook.next_run_at > timezone.now()
    assert tick(timezone.now()) == []
    assert not WebhookExecution.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_it_fires_each_slot_once_with_two_celery_beats(alice, workspace_a, settings):
    use_celery(settings)  # this process talks to the workers' Redis (to see when they are idle)
    # Seconds resolution (a sixth cron field) so the property is seen in seconds, not minutes.
    webhook = _cron(alice, workspace_a, "* * * * * */2", name="Every two seconds")
    fast = {"ORCHESTRATE_CRON_SECONDS": "0.3", "ORCHESTRATE_SWEEP_SECONDS": "30"}
    worker = CeleryProcess("worker", CONCURRENCY="3", **fast)
    beats = [CeleryProcess("beat", **fast), CeleryProcess("beat", **fast)]
    try:
        started = timezone.now()
        time.sleep(9)
        for beat in beats:
            beat.stop()
        wait_until_idle(worker)
    finally:
        for process in [*beats, worker]:
            process.stop()

    firings = list(WebhookExecution.objects.filter(webhook=webhook).order_by("slot"))
    slots = [firing.slot for firing in firings]
    assert len(slots) >= 3, f"fired {len(slots)} slots since {started}"
    assert len(set(slots)) == len(slots)
    # Consecutive slots two seconds apart, unless the firing says how many it skipped: none lost silently.
    for earlier, later in itertools.pairwise(firings):
        assert later.slot - earlier.slot == timedelta(seconds=2 * (1 + later.skipped_slots))
    assert all(firing.success for firing in firings)
    assert Execution.objects.filter(webhook_firings__webhook=webhook).count() == len(firings)
