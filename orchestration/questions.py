"""Ask instead of fail: a run that misses a detail asks its person, and the answer continues it.

When the planner raises `NeedsAnswer` (which files, when, to whom), the run
moves from `planning` to `waiting_input` with `Execution.question` set:

    {"field": "files" | "when" | "to", "text": "Which files should I use?",
     "hint": "file names, e.g. ...", "candidates": ["sales_q1.csv", ...], "asked_at": ISO time}

`answer_question(execution, user, answer)` is the one way to answer, for
the console, the REST API and the command line alike:

- `user` must be allowed to run requests in the run's workspace, else
  `PermissionDenied`;
- the run must be waiting for an answer, else `QuestionClosed` (someone
  else answered first, or the run was cancelled);
- `answer` is free text, one of the candidates or anything else the planner
  reads ("sales_q1.csv, sales_q2.csv", "tomorrow at 10", "bob@example.com");
  an answer the planner still cannot use raises `InvalidAnswer` with a
  message for the person, and nothing changes;
- on success the answer is kept in `Execution.answers[field]`, the run goes
  back to `pending` and is planned again with every answer so far (it may
  ask the next question). The same run continues; it returns the run.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orchestration.engine.dispatch import enqueue_plan
from orchestration.models import Execution, ExecutionStatus
from orchestration.planning.questions import NeedsAnswer, QuestionField
from orchestration.planning.rules import NoToolForRequest, plan_with_rules
from orchestration.publishing import publish_execution, publish_first
from tenancy.access import may
from tenancy.models import WorkspaceMember
from tenancy.roles import Action
from tools.drive import WorkspaceDrive

__all__ = ["InvalidAnswer", "Question", "QuestionClosed", "answer_question", "ask", "planning_inputs"]

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 2000
MAX_CANDIDATES = 20
DATA_SUFFIXES = (".csv", ".tsv", ".json")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".log")


class Question(TypedDict):
    field: QuestionField
    text: str
    hint: str
    candidates: list[str]
    asked_at: str


class QuestionClosed(Exception):
    """The run is not waiting for an answer (any more)."""


class InvalidAnswer(ValueError):
    """The answer does not give what was asked; the message says why, for the person."""


def planning_inputs(execution: Execution) -> dict[str, Any]:
    """What the rule planner needs besides the request: the answers, the asker's address, the drive's files."""
    user = execution.user
    return {
        "answers": dict(execution.answers or {}),
        "me": (user.email or None) if user is not None else None,
        "drive_names": [file.name for file in WorkspaceDrive(execution.workspace_id).list()],
    }


def ask(execution_id: uuid.UUID | str, needs: NeedsAnswer) -> bool:
    """Stop a planning run to ask the person; False if the run had moved on (cancelled meanwhile)."""
    execution = Execution.objects.select_related("user").get(pk=execution_id)
    question: Question = {
        "field": needs.field,
        "text": needs.question,
        "hint": needs.hint,
        "candidates": candidates_for(execution, needs.field),
        "asked_at": timezone.now().isoformat(),
    }
    asked = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.PLANNING).update(
        status=ExecutionStatus.WAITING_INPUT, question=question, updated_at=timezone.now()
    )
    if asked:
        logger.info("Asked the person: %s", needs.question, extra={"execution_id": str(execution_id)})
        publish_execution(execution_id)
    return bool(asked)


def candidates_for(execution: Execution, field: QuestionField) -> list[str]:
    """Answers the system can offer: the drive's files, the next working hours, the workspace's people."""
    if field == "files":
        names = [
            file.name for file in WorkspaceDrive(execution.workspace_id).list() if not file.name.startswith("reports/")
        ]
        data = [name for name in names if name.lower().endswith(DATA_SUFFIXES)]
        text = [name for name in names if name.lower().endswith(TEXT_SUFFIXES)]
        offers = data + text
        if sum(name.lower().endswith(".csv") for name in data) > 1:
            offers.insert(0, "all CSV files")
        return offers[:MAX_CANDIDATES]
    if field == "when":
        tomorrow = timezone.localdate() + timedelta(days=1)
        monday = tomorrow + timedelta(days=(7 - tomorrow.weekday()) % 7)
        return ["tomorrow at 09:00", "tomorrow at 14:00", f"{_day(monday)} at 10:00"]
    addresses: list[str] = []
    if execution.user is not None and execution.user.email:
        addresses.append(execution.user.email)
    members = WorkspaceMember.objects.filter(workspace_id=execution.workspace_id).select_related("user")
    for member in members.order_by("user__username")[: MAX_CANDIDATES * 2]:
        email = member.user.email
        if email and email.lower() not in {address.lower() for address in addresses}:
            addresses.append(email)
    return addresses[:MAX_CANDIDATES]


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%b}"


def answer_question(execution: Execution, user: AbstractBaseUser | AnonymousUser, answer: str) -> Execution:
    """Answer the run's open question and continue the run; see the module docstring for the contract."""
    if not may(user, Action.RUN, str(execution.workspace_id)):
        raise PermissionDenied(_("You may not answer for runs in this workspace."))
    current = Execution.objects.select_related("user").get(pk=execution.pk)
    question = current.question
    if current.status != ExecutionStatus.WAITING_INPUT or not isinstance(question, dict):
        raise QuestionClosed(_("This run is not waiting for an answer any more."))
    text = " ".join(str(answer or "").split())
    if not text:
        raise InvalidAnswer(_("Type an answer, or choose one of the suggestions."))
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidAnswer(_("Keep the answer under %(count)d characters.") % {"count": MAX_ANSWER_CHARS})
    field: QuestionField = question["field"]
    answers = {**(current.answers or {}), field: text}
    _check(current, answers, field, text)
    with transaction.atomic():
        if not Execution.objects.filter(
            pk=current.pk, status=ExecutionStatus.WAITING_INPUT, updated_at=current.updated_at
        ).update(status=ExecutionStatus.PENDING, question=None, answers=answers, updated_at=timezone.now()):
            raise QuestionClosed(_("Someone else answered first, or the run was cancelled."))
        publish_first(current.pk)
        enqueue_plan(current.pk)
    logger.info("%s answered %r: %s", user, question.get("text"), text, extra={"execution_id": str(current.pk)})
    return Execution.objects.get(pk=current.pk)


def _check(execution: Execution, answers: dict[str, str], field: QuestionField, text: str) -> None:
    """Refuse an answer that leaves the same question open, saying why."""
    inputs = planning_inputs(execution)
    inputs["answers"] = answers
    try:
        plan_with_rules(execution.request, now=_now(), **inputs)
    except NeedsAnswer as still:
        if still.field == field:
            if field == "when":
                raise InvalidAnswer(
                    _("I could not read a date or time in “%(text)s”: try e.g. 'tomorrow at 10'.") % {"text": text}
                ) from None
            if field == "to":
                raise InvalidAnswer(
                    _("I found no e-mail address in “%(text)s”: type one, e.g. bob@example.com.") % {"text": text}
                ) from None
            raise InvalidAnswer(still.question) from None
    except NoToolForRequest:
        pass  # the planner will say so itself on the next planning


def _now() -> datetime:
    return timezone.localtime().replace(tzinfo=None, microsecond=0)
