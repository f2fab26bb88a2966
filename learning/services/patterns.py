"""Learned patterns: mined from finished runs, consulted first when planning.

Two kinds are mined per workspace: the tool sequence a run followed
("Drive -> Analysis -> Report") and request-to-plan templates (the request's
signature mapped to the plan that ran, its particulars left as slots, see
`signature`). A pattern is created by a run that succeeded; every later run
that follows it adds an outcome, and its numbers are computed again from all
of them: `usage_count` runs, `success_rate`, and `confidence`, the lower
bound of the Wilson interval over the rating-weighted outcomes. The planner
uses a request-to-plan pattern only while its confidence is at least
ORCHESTRATE_PATTERN_MIN_CONFIDENCE, so a pattern whose runs start failing
drops out by itself.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from learning.models import ExecutionFeedback, LearnedPattern, PatternOutcome, PatternType
from learning.services import abtests, prompts
from learning.services.feedback import feedback_of, mean_rating
from learning.services.signature import fill_template, plan_template, signature_of, template_key, template_summary
from learning.services.stats import outcome_score, wilson_lower_bound
from orchestration.models import FINISHED_STATUSES, Execution, ExecutionStatus
from orchestration.planning.understanding import understand
from tenancy.access import may
from tenancy.roles import Action

logger = logging.getLogger(__name__)


def sequence_of(agents: list[str]) -> str:
    return " -> ".join(agent.capitalize() for agent in agents)


def learn_from_run(execution_id: uuid.UUID | str) -> None:
    """Everything learning takes from one finished run; safe to repeat (a rating repeats it)."""
    # The jobs of one run (its end, then each rating) may overlap on Celery workers. The row lock
    # orders them, and each reads the ratings after taking it, so the last to commit counts them all.
    # NO KEY UPDATE: a rating being saved checks its foreign key to the run (KEY SHARE) at commit,
    # holding the feedback row this job updates; a plain FOR UPDATE would deadlock with it.
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(no_key=True)
            .filter(pk=execution_id, status__in=FINISHED_STATUSES)
            .first()
        )
        if execution is not None:
            _learn(execution)


def _learn(execution: Execution) -> None:
    succeeded = execution.status == ExecutionStatus.SUCCEEDED
    score = outcome_score(succeeded, mean_rating(execution.pk))
    agents = list(execution.steps.order_by("step_number").values_list("agent_id", flat=True))
    followed: list[LearnedPattern] = []
    if agents:
        sequence = sequence_of(agents)
        key = hashlib.sha256(sequence.encode()).hexdigest()[:40]
        pattern = _pattern(execution, PatternType.TOOL_SEQUENCE, key, sequence, create=succeeded)
        if pattern is not None:
            followed.append(pattern)
    plan = execution.plan if isinstance(execution.plan, dict) else None
    if plan and plan.get("steps"):
        found = understand(execution.request, answers=execution.answers or None)
        signature = signature_of(found)
        template = plan_template(plan, found)
        description = f"{signature} -> {template_summary(template)}"
        pattern = _pattern(
            execution,
            PatternType.REQUEST_PLAN,
            template_key(signature, template),
            description,
            create=succeeded,
            signature=signature,
            template=template,
        )
        if pattern is not None:
            followed.append(pattern)
    for pattern in followed:
        PatternOutcome.objects.update_or_create(
            pattern=pattern, execution=execution, defaults={"succeeded": succeeded, "score": score}
        )
        refresh(pattern.pk)
    abtests.record_run(execution.pk)
    if plan and plan.get("planner") == "llm" and isinstance(plan.get("prompt_version"), int):
        prompts.score_version("planner", plan["prompt_version"])
    if not ExecutionFeedback.objects.filter(execution=execution).update(learned_at=timezone.now()):
        feedback = feedback_of(execution)  # a run that ended before learning kept feedback rows
        feedback.learned_at = timezone.now()
        feedback.save(update_fields=["learned_at"])


def _pattern(
    execution: Execution,
    kind: str,
    key: str,
    description: str,
    *,
    create: bool,
    signature: str = "",
    template: list[dict[str, Any]] | None = None,
) -> LearnedPattern | None:
    """The workspace's pattern of this key; created only from a run that succeeded."""
    existing = LearnedPattern.objects.filter(workspace_id=execution.workspace_id, pattern_type=kind, key=key).first()
    if existing is not None or not create:
        return existing
    try:
        with transaction.atomic():
            return LearnedPattern.objects.create(
                workspace_id=execution.workspace_id,
                pattern_type=kind,
                key=key,
                description=description[:1000],
                signature=signature,
                plan_template=template,
            )
    except IntegrityError:  # mined by a parallel job
        return LearnedPattern.objects.get(workspace_id=execution.workspace_id, pattern_type=kind, key=key)


def refresh(pattern_id: uuid.UUID) -> None:
    """Compute the pattern's numbers again from all its outcomes."""
    totals = PatternOutcome.objects.filter(pattern_id=pattern_id).aggregate(
        runs=Count("pk"), succeeded=Count("pk", filter=Q(succeeded=True)), score=Sum("score")
    )
    runs = totals["runs"] or 0
    LearnedPattern.objects.filter(pk=pattern_id).update(
        usage_count=runs,
        success_rate=(totals["succeeded"] / runs) if runs else 0.0,
        confidence=round(wilson_lower_bound(float(totals["score"] or 0.0), runs), 4),
        last_used_at=timezone.now(),
    )


def plan_for_request(
    request_text: str,
    *,
    workspace_id: uuid.UUID | str,
    execution_id: uuid.UUID | str,
    answers: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """The learned planner (registered with orchestration.planning.learned): a running A/B test's
    variant for this request's signature, else (unless the planner's prompts are being tested) the
    best enabled pattern confident enough, else None."""
    found = understand(request_text, answers=answers or None)
    signature = signature_of(found)
    tested = abtests.plan_variant(signature, found, workspace_id=workspace_id, execution_id=execution_id)
    if tested is not None:
        return tested
    if abtests.testing_prompt("planner", workspace_id):
        return None  # a running test of the planner's prompts needs the model to plan: no shortcut meanwhile
    candidates = LearnedPattern.objects.filter(
        workspace_id=workspace_id,
        pattern_type=PatternType.REQUEST_PLAN,
        signature=signature,
        enabled=True,
        confidence__gte=settings.ORCHESTRATE_PATTERN_MIN_CONFIDENCE,
    ).order_by("-promoted", "-confidence", "-usage_count")
    for pattern in candidates:
        steps = fill_template(pattern.plan_template or [], found)
        if steps is None:
            continue
        LearnedPattern.objects.filter(pk=pattern.pk).update(last_used_at=timezone.now())
        return {
            "planner": "pattern",
            "steps": steps,
            "pattern": {
                "id": str(pattern.pk),
                "description": pattern.description,
                "confidence": round(pattern.confidence, 3),
                "runs": pattern.usage_count,
                "signature": signature,
            },
        }
    return None


def set_enabled(user: Any, pattern: LearnedPattern, enabled: bool) -> None:
    """An admin switches a pattern off (the planner stops using it) or on again."""
    if pattern.workspace_id is None or not may(user, Action.MANAGE_SETTINGS, pattern.workspace_id):
        raise PermissionDenied(_("Only the workspace's owners and admins may switch patterns on or off."))
    LearnedPattern.objects.filter(pk=pattern.pk).update(enabled=enabled, promoted=pattern.promoted and enabled)


def nightly(days: int = 1) -> int:
    """The nightly batch: learn from recent runs the per-run job missed, then refresh every pattern and prompt."""
    since = timezone.now() - timedelta(days=days)
    missed = (
        Execution.objects.filter(status__in=FINISHED_STATUSES, completed_at__gte=since)
        .exclude(pk__in=ExecutionFeedback.objects.filter(learned_at__isnull=False).values("execution_id"))
        .values_list("pk", flat=True)
    )
    count = 0
    for execution_id in missed:
        learn_from_run(execution_id)
        count += 1
    for pattern_id in LearnedPattern.objects.values_list("pk", flat=True):
        refresh(pattern_id)
    prompts.score_all()
    logger.info("Nightly learning: %d runs read, patterns and prompt scores refreshed", count)
    return count
