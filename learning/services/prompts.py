"""Agents' prompt versions: written in the console with a note, scored from the runs that used them.

Prompts are shared by every workspace, so only staff write them, make one
current or test them. A version's scores come from the finished runs whose
plan records it (the planner's prompt: `plan["prompt_version"]`):
`success_rate`, `performance_score` (the Wilson lower bound of the
rating-weighted outcomes, as for patterns) and `token_efficiency`
(success rate / (1 + mean tokens per run / 1000): a version that succeeds as
often with fewer tokens scores higher).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Avg, Max
from django.utils.translation import gettext_lazy

from learning.models import ExecutionFeedback, PromptVersion, RunRating
from learning.services.stats import outcome_score, wilson_lower_bound
from orchestration.models import FINISHED_STATUSES, ExecutionStatus

MAX_PROMPT = 20000
TOKENS_SCALE = 1000.0


class PromptInvalid(ValueError):
    """The prompt cannot be saved; the message says why."""


def _require_staff(user: Any) -> None:
    if not getattr(user, "is_staff", False):
        raise PermissionDenied(gettext_lazy("Prompts are shared by every workspace: only staff change them."))


def current_of(agent_id: str) -> PromptVersion | None:
    return PromptVersion.objects.filter(agent_id=agent_id).order_by("-is_current", "-version").first()


def new_version(user: Any, agent_id: str, prompt: str, note: str, *, make_current: bool = False) -> PromptVersion:
    """Save the prompt as the agent's next version (made current at once when asked)."""
    _require_staff(user)
    prompt = prompt.strip()
    if not prompt:
        raise PromptInvalid("A prompt cannot be empty.")
    if len(prompt) > MAX_PROMPT:
        raise PromptInvalid(f"A prompt is at most {MAX_PROMPT} characters.")
    for _ in range(3):
        try:
            with transaction.atomic():
                latest = PromptVersion.objects.filter(agent_id=agent_id).aggregate(top=Max("version"))["top"] or 0
                if not make_current and not PromptVersion.objects.filter(agent_id=agent_id, is_current=True).exists():
                    # The agent used its newest version; saving another must not change that unasked.
                    PromptVersion.objects.filter(agent_id=agent_id, version=latest).update(is_current=True)
                version = PromptVersion.objects.create(
                    agent_id=agent_id, version=latest + 1, prompt=prompt, note=note.strip()[:300], created_by=user
                )
                if make_current:
                    make_current_version(version)
                return version
        except IntegrityError:  # someone saved a version at the same moment
            continue
    raise PromptInvalid("Could not number the new version; try again.")


def make_current_version(version: PromptVersion) -> None:
    with transaction.atomic():
        PromptVersion.objects.filter(agent_id=version.agent_id, is_current=True).update(is_current=False)
        PromptVersion.objects.filter(pk=version.pk).update(is_current=True)


def make_current(version: PromptVersion, user: Any = None) -> None:
    """Make the version the one the agent uses (user None: an A/B test's promotion)."""
    if user is not None:
        _require_staff(user)
    make_current_version(version)


def score_version(agent_id: str, number: int) -> None:
    """Compute the version's scores again from the finished runs that used it."""
    if agent_id != "planner":
        return  # only the planner's prompt is recorded on runs today
    feedback = ExecutionFeedback.objects.filter(
        execution__plan__planner="llm",
        execution__plan__prompt_version=number,
        execution__status__in=FINISHED_STATUSES,
    )
    rows = list(feedback.values_list("execution_id", "execution__status"))
    runs = len(rows)
    if not runs:
        return
    ratings = dict(
        RunRating.objects.filter(execution_id__in=[row[0] for row in rows])
        .values("execution_id")
        .annotate(mean=Avg("rating"))
        .values_list("execution_id", "mean")
    )
    successes = sum(1 for _, status in rows if status == ExecutionStatus.SUCCEEDED)
    score = sum(
        outcome_score(status == ExecutionStatus.SUCCEEDED, ratings.get(execution_id)) for execution_id, status in rows
    )
    tokens = feedback.aggregate(mean=Avg("tokens_used"))["mean"] or 0
    success_rate = successes / runs
    PromptVersion.objects.filter(agent_id=agent_id, version=number).update(
        success_rate=round(success_rate, 4),
        performance_score=round(wilson_lower_bound(score, runs), 4),
        token_efficiency=round(success_rate / (1 + float(tokens) / TOKENS_SCALE), 4),
    )


def runs_of(agent_id: str, number: int) -> int:
    if agent_id != "planner":
        return 0
    return ExecutionFeedback.objects.filter(
        execution__plan__planner="llm", execution__plan__prompt_version=number
    ).count()


def score_all() -> None:
    for number in PromptVersion.objects.filter(agent_id="planner").values_list("version", flat=True):
        score_version("planner", number)
