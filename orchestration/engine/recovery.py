"""The sweeper: finds work a dead worker left behind and starts it again.

Recovery is driven by leases, not by the broker: a running step renews its
lease while its worker lives, so a step whose lease ran out lost its worker
and is resumed from the run's last checkpoint (a holder process known dead
on this host is not waited for). The sweeper also re-sends work whose
message was lost (ready but never claimed, or sent before the broker last
restarted), restarts planning that stalled, and finishes runs whose last
step ended without finishing them.

It runs wherever workers run, one at a time: `sweep_as_leader()` first takes
the sweeper's lease (a row in `resource_locks`), so Celery workers, beat and
an embedded server can all call it and only one sweeps.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from caching.services import purge_expired
from orchestration.engine.approvals import wake_step
from orchestration.engine.claiming import holder_is_dead, worker_name
from orchestration.engine.dispatch import enqueue_plan, enqueue_steps
from orchestration.engine.ending import finish_if_done
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, SharedContext, StepStatus
from persistence.checkpoints import latest_checkpoint
from safety import locks
from safety.approvals import expire_overdue
from safety.models import ApprovalStatus, PendingApproval, ResourceLock

logger = logging.getLogger(__name__)

SWEEPER_LOCK = "orchestrate:sweeper"
# Runs whose steps may be running: a run waiting for a person still runs its other branches.
LIVE_RUNS = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_APPROVAL)


@dataclass
class SweepReport:
    resumed_steps: list[str] = field(default_factory=list)
    woken_steps: list[str] = field(default_factory=list)
    resent_steps: list[str] = field(default_factory=list)
    replanned: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    expired_approvals: list[str] = field(default_factory=list)
    purged_cache_entries: int = 0


def sweep(sent_before: datetime | None = None, *, execution_id: uuid.UUID | str | None = None) -> SweepReport:
    """One pass of recovery, over every run or over one (`execution_id`).

    `sent_before` re-sends ready steps sent before that moment; a process
    whose in-memory queue is new (an embedded server that just started)
    passes its start time, since anything queued before it is gone.
    """
    report = SweepReport()
    if execution_id is None:
        report.expired_approvals = [str(approval.pk) for approval in expire_overdue()]
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.ORCHESTRATE_LEASE_SECONDS)
    lost_before = sent_before or now - timedelta(seconds=settings.ORCHESTRATE_REQUEUE_SECONDS)
    broker_started = broker_started_at()
    if broker_started is not None:
        # A restarted Redis without persistence forgot every message it held.
        lost_before = max(lost_before, broker_started)
    _resume_orphaned_steps(now, report, execution_id)
    _wake_decided_steps(report, execution_id)
    _resend_lost_steps(now, lost_before, stale_before, report, execution_id)
    _restart_stalled_planning(stale_before, broker_started, report, execution_id)
    _finish_forgotten_runs(stale_before, report, execution_id)
    if execution_id is None:
        report.purged_cache_entries = purge_expired()
        SharedContext.objects.filter(expires_at__lte=now).delete()
    return report


def sweep_as_leader(holder: str | None = None, sent_before: datetime | None = None) -> SweepReport | None:
    """Sweep if no other live process is the sweeper right now; None when another one is.

    The lease outlives a few sweep intervals, so a dead leader is replaced
    within seconds, at once when it died on this host.
    """
    holder = holder or worker_name()
    lease = max(3 * settings.ORCHESTRATE_SWEEP_SECONDS, 5.0)
    current = ResourceLock.objects.filter(resource_id=SWEEPER_LOCK).values_list("locked_by", flat=True).first()
    if current and current != holder and holder_is_dead(current):
        ResourceLock.objects.filter(resource_id=SWEEPER_LOCK, locked_by=current).delete()
    if locks.acquire([SWEEPER_LOCK], holder, lease) is not None:
        return None
    return sweep(sent_before=sent_before)


def broker_started_at() -> datetime | None:
    """When the Celery broker (Redis) last started; None in the embedded mode or when it does not answer."""
    if settings.ORCHESTRATE_RUN_MODE != "celery" or not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        uptime = int(client.info("server")["uptime_in_seconds"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None
    # Redis counts uptime in whole seconds from a start time it truncates to the second, so
    # now - uptime may fall up to a second before the real start (a message sent in that second,
    # before the restart, was then never sent again). A second later is at or after the real start:
    # a message sent in the first second after it may be sent twice (harmless, the claim dedupes),
    # a lost one is never left behind.
    return timezone.now() - timedelta(seconds=uptime - 1)


def _in_run(queryset: QuerySet, execution_id: uuid.UUID | str | None, field: str = "execution_id") -> QuerySet:
    return queryset.filter(**{field: execution_id}) if execution_id is not None else queryset


def _resume_orphaned_steps(now: datetime, report: SweepReport, execution_id: uuid.UUID | str | None) -> None:
    running = _in_run(
        ExecutionStep.objects.filter(status=StepStatus.RUNNING, execution__status__in=LIVE_RUNS), execution_id
    )
    # Lost by lease, or held by a process on this host that is gone (no need to wait out its lease).
    orphaned = list(running.filter(lease_expires_at__lt=now).only("pk", "execution_id", "step_number", "claimed_by"))
    here = running.filter(lease_expires_at__gte=now, claimed_by__startswith=f"{socket.gethostname()}:")
    orphaned += [
        step for step in here.only("pk", "execution_id", "step_number", "claimed_by") if holder_is_dead(step.claimed_by)
    ]
    for step in orphaned:
        if not ExecutionStep.objects.filter(
            Q(lease_expires_at__lt=now) | Q(claimed_by=step.claimed_by), pk=step.pk, status=StepStatus.RUNNING
        ).update(
            status=StepStatus.PENDING, lease_expires_at=None, claimed_by="", retry_at=None, waiting_for="resuming"
        ):
            continue
        checkpoint = latest_checkpoint(step.execution_id)
        logger.warning(
            "Step %d lost its worker (%s); resuming from checkpoint %s",
            step.step_number,
            step.claimed_by,
            checkpoint.checkpoint_number if checkpoint else "none",
            extra={"execution_id": str(step.execution_id), "step_number": step.step_number},
        )
        enqueue_steps([step.pk])
        report.resumed_steps.append(str(step.pk))


def _wake_decided_steps(report: SweepReport, execution_id: uuid.UUID | str | None) -> None:
    """Wake steps still parked for a decision that was made (the wake-up was lost with a service)."""
    # A step asked again (a newer request still pending) waits for that one, not for this.
    asked_again = PendingApproval.objects.filter(step=OuterRef("step"), status=ApprovalStatus.PENDING)
    decided = (
        PendingApproval.objects.filter(step__status=StepStatus.WAITING_APPROVAL)
        .exclude(status=ApprovalStatus.PENDING)
        .exclude(Exists(asked_again))
    )
    for approval in _in_run(decided, execution_id):
        wake_step(None, approval)
        report.woken_steps.append(str(approval.step_id))


def _resend_lost_steps(
    now: datetime,
    lost_before: datetime,
    stale_before: datetime,
    report: SweepReport,
    execution_id: uuid.UUID | str | None,
) -> None:
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    # Never sent: left for this process by an operator's command, or refused by a broker that was down.
    never_sent = Q(queued_at__isnull=True) & due
    # Sent long ago, or before the broker last restarted, and still unclaimed: the message was lost.
    sent_long_ago = Q(queued_at__lt=lost_before) & (Q(retry_at__isnull=True) | Q(retry_at__lt=lost_before))
    # A retry's countdown message is held by the worker that sent it: if its time came a lease ago
    # and nobody claimed the step, that worker died with it.
    overdue_retry = Q(retry_at__lt=stale_before, queued_at__lt=stale_before)
    lost = ExecutionStep.objects.filter(
        never_sent | sent_long_ago | overdue_retry,
        status__in=[StepStatus.PENDING, StepStatus.THROTTLED],
        remaining_deps=0,
        execution__status__in=LIVE_RUNS,
    )
    ids = [str(pk) for pk in _in_run(lost, execution_id).values_list("pk", flat=True)]
    if ids:
        logger.warning("Re-sending %d steps that no worker claimed", len(ids))
        enqueue_steps(ids)
        report.resent_steps.extend(ids)


def _restart_stalled_planning(
    stale_before: datetime,
    broker_started: datetime | None,
    report: SweepReport,
    execution_id: uuid.UUID | str | None,
) -> None:
    _in_run(
        Execution.objects.filter(status=ExecutionStatus.PLANNING, updated_at__lt=stale_before), execution_id, "pk"
    ).update(status=ExecutionStatus.PENDING, updated_at=timezone.now())
    lost = Q(updated_at__lt=stale_before)
    if broker_started is not None:
        lost |= Q(updated_at__lt=broker_started)
    pending = _in_run(Execution.objects.filter(lost, status=ExecutionStatus.PENDING), execution_id, "pk")
    for pending_id in pending.values_list("pk", flat=True):
        Execution.objects.filter(pk=pending_id).update(updated_at=timezone.now())
        enqueue_plan(pending_id)
        report.replanned.append(str(pending_id))


def _finish_forgotten_runs(stale_before: datetime, report: SweepReport, execution_id: uuid.UUID | str | None) -> None:
    forgotten = _in_run(Execution.objects.filter(status__in=LIVE_RUNS, updated_at__lt=stale_before), execution_id, "pk")
    for forgotten_id in forgotten.values_list("pk", flat=True):
        finish_if_done(forgotten_id)
        if Execution.objects.filter(pk=forgotten_id).exclude(status__in=LIVE_RUNS).exists():
            report.finished.append(str(forgotten_id))
