"""Resource locks and rate limits hold under concurrency, and steps wait for them instead of failing."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orchestration.engine.runs import submit
from orchestration.models import ExecutionStatus, StepStatus
from safety import locks, rate_limits
from safety.models import RateLimit, ResourceLock
from tests.support.engine import wait_for, wait_for_log


def _in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_it_never_lets_two_of_twenty_contenders_hold_a_lock_at_once():
    def contend(index: int) -> tuple[float, float]:
        holder = f"contender-{index}"
        while locks.acquire(["file:shared.csv"], holder, ttl_seconds=30) is not None:
            time.sleep(0.002)
        start = time.monotonic()
        time.sleep(0.01)
        end = time.monotonic()
        locks.release(["file:shared.csv"], holder)
        return start, end

    intervals = sorted(_in_threads(20, contend))
    assert len(intervals) == 20
    for (_, end), (next_start, _) in itertools.pairwise(intervals):
        assert end <= next_start, "two holders overlapped"
    assert not ResourceLock.objects.exists()


@pytest.mark.django_db
def test_it_takes_over_a_lock_whose_holder_died():
    assert locks.acquire(["calendar:a"], "dead-step", ttl_seconds=30) is None
    refused = locks.acquire(["calendar:a", "mailbox:a"], "live-step", ttl_seconds=30)
    assert refused == locks.LockRefused("calendar:a", "dead-step")
    assert not ResourceLock.objects.filter(resource_id="mailbox:a").exists(), "all or nothing"
    ResourceLock.objects.filter(resource_id="calendar:a").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert locks.acquire(["calendar:a", "mailbox:a"], "live-step", ttl_seconds=30) is None
    assert set(ResourceLock.objects.values_list("locked_by", flat=True)) == {"live-step"}


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_the_limit_through_under_concurrency(workspace_a, settings):
    settings.ORCHESTRATE_RATE_LIMITS = {"smtp.send": (10, 3600)}
    fixed_now = timezone.now()
    decisions = _in_threads(50, lambda i: rate_limits.take(workspace_a, "smtp", "send", now=fixed_now).allowed)
    assert decisions.count(True) == 10
    assert RateLimit.objects.get(workspace=workspace_a).request_count == 10


@pytest.mark.django_db
def test_it_counts_each_workspace_and_window_apart_and_honours_overrides(workspace_a, workspace_b, settings):
    settings.ORCHESTRATE_RATE_LIMITS = {"llm.chat": (1, 60)}
    now = timezone.now()
    assert rate_limits.take(workspace_a, "llm", "chat", now=now).allowed
    refused = rate_limits.take(workspace_a, "llm", "chat", now=now)
    assert not refused.allowed
    assert 0 < refused.retry_after <= 60
    assert "rate limit llm.chat: 1 per 60s" in refused.describe("llm.chat")
    assert rate_limits.take(workspace_b, "llm", "chat", now=now).allowed
    assert rate_limits.take(workspace_a, "llm", "chat", now=now + timedelta(seconds=61)).allowed
    workspace_b.integrations = {"rate_limits": {"llm.chat": {"limit": 3, "window_seconds": 60}}}
    assert [rate_limits.take(workspace_b, "llm", "chat", now=now).allowed for _ in range(3)] == [True, True, False]
    assert rate_limits.take(workspace_a, "web", "unlimited").allowed


@pytest.mark.usefixtures("engine")
def test_it_makes_a_step_wait_for_a_lock_instead_of_failing(alice, workspace_a):
    plan = {
        "steps": [
            {"number": 1, "tool": "test.locking", "input": {"seconds": 1.5, "resource": "ledger"}},
            {"number": 2, "tool": "test.locking", "input": {"seconds": 0.1, "resource": "ledger"}},
        ]
    }
    execution = submit(user=alice, workspace=workspace_a, request_text="locks", plan=plan)
    waiting = _wait_for_waiting(execution, "lock on test:")
    execution = wait_for(execution)
    first, second = execution.steps.order_by("step_number")
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert waiting.step_number in {1, 2}
    assert first.completed_at <= second.started_at or second.completed_at <= first.started_at
    assert not ResourceLock.objects.exists()


@pytest.mark.usefixtures("engine")
def test_it_throttles_steps_over_the_rate_limit_until_the_next_window(alice, workspace_a):
    # test.call is limited to 2 per 2 seconds (tests/environment.py).
    plan = {"steps": [{"number": n, "tool": "test.limited", "input": {"value": n}} for n in range(1, 6)]}
    execution = wait_for(submit(user=alice, workspace=workspace_a, request_text="limits", plan=plan), timeout=30)
    assert execution.status == ExecutionStatus.SUCCEEDED
    windows = RateLimit.objects.filter(workspace=workspace_a, integration="test", operation="call")
    assert sum(windows.values_list("request_count", flat=True)) == 5
    assert max(windows.values_list("request_count", flat=True)) <= 2
    wait_for_log(execution, "waits for rate limit test.call")


def _wait_for_waiting(execution, prefix, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for step in execution.steps.filter(status=StepStatus.PENDING):
            if step.waiting_for.startswith(prefix):
                return step
        time.sleep(0.02)
    raise AssertionError(f"no step waited for {prefix}")
