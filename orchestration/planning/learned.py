"""The hook through which what was learned plans first: learned patterns and A/B tests.

The learning app registers its functions here in LearningConfig.ready();
planning asks them before the model and the rule planner, so the planner
imports nothing of learning. A learned plan says where it came from
(`planner` is "pattern" or "ab_test", with the pattern and its confidence, or
the test and the variant).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from django.db import DatabaseError

logger = logging.getLogger(__name__)

LearnedPlanner = Callable[..., dict[str, Any] | None]


class ChosenPrompt(Protocol):
    """A prompt version (learning.models.PromptVersion, or anything with its two fields)."""

    version: int
    prompt: str


PromptChooser = Callable[..., tuple[ChosenPrompt, dict[str, Any] | None] | None]

_planner: LearnedPlanner | None = None
_prompt_chooser: PromptChooser | None = None


def use_learned_planner(planner: LearnedPlanner | None) -> None:
    global _planner
    _planner = planner


def use_prompt_chooser(chooser: PromptChooser | None) -> None:
    global _prompt_chooser
    _prompt_chooser = chooser


def learned_plan(
    request_text: str,
    *,
    workspace_id: uuid.UUID | str | None,
    execution_id: uuid.UUID | str,
    answers: dict[str, str] | None,
) -> dict[str, Any] | None:
    """A plan from a learned pattern or a running A/B test, or None to plan as usual.

    Learning must never stop a run being planned: a failure here is logged and planning goes on.
    """
    if _planner is None or workspace_id is None:
        return None
    try:
        return _planner(request_text, workspace_id=workspace_id, execution_id=execution_id, answers=answers)
    except (DatabaseError, ValueError, KeyError, TypeError) as exc:
        logger.warning("Learned patterns not consulted: %s", exc, extra={"execution_id": str(execution_id)})
        return None


def chosen_prompt(
    agent: str, *, workspace_id: uuid.UUID | str | None, execution_id: uuid.UUID | str
) -> tuple[ChosenPrompt, dict[str, Any] | None] | None:
    """The prompt version a running A/B test gives this run (and the assignment), or None for the current one."""
    if _prompt_chooser is None or workspace_id is None:
        return None
    return _prompt_chooser(agent, workspace_id=workspace_id, execution_id=execution_id)
