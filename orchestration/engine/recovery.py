"""The sweeper: finds work a dead worker left behind and starts it again.

Recovery is driven by leases, not by the broker: a running step renews its
lease while its worker lives, so a step whose lease ran out lost its worker
and is resumed from the run's last checkpoint. The sweeper also re-sends
work whose message was lost (ready but never claimed), restarts planning
that stalled, and finishes runs whose last step ended without finishing them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from caching.services import purge_expired
from orchestration.engine.dispatch import enqueue_plan, enqueue_steps
from orchestration.engine.runs import finish_if_done
from orchestration.models import Execution, ExecutionStatus, ExecutionStep, SharedContext, StepStatus
from persistence.checkpoints import latest_checkpoint
from safety.approvals import expire_overdue

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    resumed_steps: list[str] = field(default_factory=list)
    resent_steps: list[str] = field(default_factory=list)
    replanned: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    expired_approvals: list[str] = field(default_factory=list)
    purged_cache_entries: int = 0


def sweep(sent_before: datetime | None = None) -> SweepReport:
    """One pass of recovery.

    `sent_before` re-sends ready steps sent before that moment; a process
    whose in-memory queue is new (an embedded server that just started)
    passes its start time, since anything queued before it is gone.
    """
    report = SweepReport()
    report.expired_approvals = [str(approval.pk) for approval in expire_overdue()]
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.ORCHESTRATE_LEASE_SECONDS)
    lost_before = sent_before or now - timedelta(seconds=settings.ORCHESTRATE_REQUEUE_SECONDS)
    _resume_orphaned_steps(now, report)
    _resend_lost_steps(now, lost_before, report)
    _restart_stalled_planning(stale_before, report)
    _finish_forgotten_runs(stale_before, report)
    report.purged_cache_entries = purge_expired()
    SharedContext.objects.filter(expires_at__lte=now).delete()
    return report


def _resume_orphaned_steps(now: datetime, report: SweepReport) -> None:
    orphaned = ExecutionStep.objects.filter(
        status=StepStatus.RUNNING, lease_expires_at__lt=now, execution__status=ExecutionStatus.RUNNING
    )
    for step in orphaned.only("pk", "execution_id", "step_number", "claimed_by"):
        if not ExecutionStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, lease_expires_at__lt=now).update(
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


def _resend_lost_steps(now: datetime, lost_before: datetime, report: SweepReport) -> None:
    # A ready step with no queued_at was never sent (left for this process by an
    # operator's command); one sent long ago and still unclaimed lost its message.
    lost = ExecutionStep.objects.filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=lost_before),
        Q(retry_at__isnull=True) | Q(retry_at__lt=lost_before),
        status__in=[StepStatus.PENDING, StepStatus.THROTTLED],
        remaining_deps=0,
        execution__status__in=[ExecutionStatus.RUNNING, ExecutionStatus.WAITING_APPROVAL],
    ).values_list("pk", flat=True)
    ids = [str(pk) for pk in lost]
    if ids:
        logger.warning("Re-sending %d steps that no worker claimed", len(ids))
        enqueue_steps(ids)
        report.resent_steps.extend(ids)


def _restart_stalled_planning(stale_before: datetime, report: SweepReport) -> None:
    Execution.objects.filter(status=ExecutionStatus.PLANNING, updated_at__lt=stale_before).update(
        status=ExecutionStatus.PENDING, updated_at=timezone.now()
    )
    for execution_id in Execution.objects.filter(
        status=ExecutionStatus.PENDING, updated_at__lt=stale_before
    ).values_list("pk", flat=True):
        Execution.objects.filter(pk=execution_id).update(updated_at=timezone.now())
        enqueue_plan(execution_id)
        report.replanned.append(str(execution_id))


def _finish_forgotten_runs(stale_before: datetime, report: SweepReport) -> None:
    for execution_id in Execution.objects.filter(
        status=ExecutionStatus.RUNNING, updated_at__lt=stale_before
    ).values_list("pk", flat=True):
        finish_if_done(execution_id)
        if Execution.objects.filter(pk=execution_id).exclude(status=ExecutionStatus.RUNNING).exists():
            report.finished.append(str(execution_id))
