"""People's ratings of finished runs: one per run per person, changed by rating again.

The run's `execution_feedback` row keeps the run's own figures (written
when it ended, see learning.receivers) and the mean rating and newest
comment; every rating sends the run to the learning job again, since a
rating moves the confidence of the patterns and variants it followed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Avg
from django.utils.translation import gettext_lazy

from learning.models import ExecutionFeedback, RunRating
from learning.services.jobs import schedule_learning
from orchestration.models import Execution, ExecutionStatus
from tenancy.access import may
from tenancy.roles import Action

MAX_COMMENT = 2000


class RatingInvalid(ValueError):
    """The rating or comment cannot be kept; the message says why."""


def feedback_of(execution: Execution) -> ExecutionFeedback:
    """The run's feedback row; written now from the run itself when the run ended before learning kept one."""
    steps = list(execution.steps.order_by("step_number").values_list("agent_id", "status", "tokens_used"))
    completed = execution.completed_at or execution.updated_at
    feedback, _ = ExecutionFeedback.objects.get_or_create(
        execution=execution,
        defaults={
            "success": execution.status == ExecutionStatus.SUCCEEDED,
            "duration_ms": max(0, int((completed - execution.created_at).total_seconds() * 1000)),
            "tokens_used": sum(tokens for _, _, tokens in steps),
            "steps_count": len(steps),
            "error_count": sum(1 for _, status, _ in steps if status == "failed"),
            "patterns": [" -> ".join(agent for agent, _, _ in steps)],
        },
    )
    return feedback


def rating_of(user: Any, execution: Execution) -> RunRating | None:
    return RunRating.objects.filter(execution=execution, user_id=user.pk).first()


def rate_run(user: Any, execution: Execution, rating: Any, comment: str = "") -> ExecutionFeedback:
    """Keep the user's rating of a finished run (replacing their earlier one); the run's feedback row after it."""
    if not may(user, Action.VIEW, execution.workspace_id):
        raise PermissionDenied(gettext_lazy("You may not rate runs in this workspace."))
    if not execution.is_finished:
        raise RatingInvalid("Only a finished run can be rated.")
    if isinstance(rating, bool) or not isinstance(rating, int | str) or not str(rating).strip().isdigit():
        raise RatingInvalid("A rating is a whole number from 1 to 5.")
    value = int(rating)
    if not 1 <= value <= 5:
        raise RatingInvalid("A rating is a whole number from 1 to 5.")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise RatingInvalid(f"A comment is at most {MAX_COMMENT} characters.")
    with transaction.atomic():
        RunRating.objects.update_or_create(
            execution=execution, user_id=user.pk, defaults={"rating": value, "comment": comment}
        )
        feedback = feedback_of(execution)
        ratings = RunRating.objects.filter(execution=execution)
        mean = ratings.aggregate(mean=Avg("rating"))["mean"]
        newest = ratings.exclude(comment="").order_by("-updated_at").values_list("comment", flat=True).first()
        feedback.user_rating = round(mean) if mean is not None else None
        feedback.user_comment = newest or ""
        feedback.save(update_fields=["user_rating", "user_comment"])
        schedule_learning(execution.pk)
    return feedback


def mean_rating(execution_id: Any) -> float | None:
    """The mean of everyone's ratings of the run (None when nobody rated it)."""
    value = RunRating.objects.filter(execution_id=execution_id).aggregate(mean=Avg("rating"))["mean"]
    return float(value) if value is not None else None
