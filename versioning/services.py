"""Plan versions: edit a plan as a new version, compare two versions, and what each version's runs did.

A plan can be edited before its run starts (a run planned with "Plan only")
and after its run ends; each edit is validated like any plan and kept as the
next `plan_versions` row. Running a version again is a new run whose plan
says which version it re-runs (`plan["rerun_of"]`), so a version's outcomes
are the runs that carried it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils.translation import gettext_lazy

from orchestration.models import FINISHED_STATUSES, Execution, ExecutionStatus
from orchestration.planning.schema import validate_plan
from safety.secrets import seal_plan
from tenancy.access import may
from tenancy.roles import Action
from versioning.models import PlanVersion

EDITABLE = (*FINISHED_STATUSES, ExecutionStatus.PLANNED)


class EditRefused(ValueError):
    """The plan cannot be edited now; the message says why."""


def versions_of(execution: Execution) -> QuerySet[PlanVersion]:
    return PlanVersion.objects.filter(plan=execution).order_by("version")


def edit_plan(user: Any, execution: Execution, steps: list[dict[str, Any]], note: str = "") -> PlanVersion:
    """Keep the edited steps as the plan's next version (PlanInvalid lists what is wrong with them)."""
    if not may(user, Action.RUN, execution.workspace_id):
        raise PermissionDenied(gettext_lazy("You may not edit plans in this workspace."))
    if execution.status not in EDITABLE:
        raise EditRefused("A plan can be edited before its run starts or after it ends, not while it runs.")
    base = versions_of(execution).last()
    plan = validate_plan({"steps": steps}, planner="edited", workspace=execution.workspace_id)
    plan["edited_from"] = base.version if base else None
    plan = seal_plan(plan, workspace_id=execution.workspace_id)
    metadata = {"source": "edit", "by": user.get_username(), "note": note.strip()[:300]}
    for _ in range(3):
        try:
            with transaction.atomic():
                top = PlanVersion.objects.filter(plan=execution).aggregate(top=Max("version"))["top"] or 0
                return PlanVersion.objects.create(plan=execution, version=top + 1, plan_data=plan, metadata=metadata)
        except IntegrityError:  # two edits at once: number this one after the other
            continue
    raise EditRefused("Could not number the new version; try again.")


def rerun_plan(version: PlanVersion) -> dict[str, Any]:
    """The plan a re-run of the version submits: the version's steps, saying what they re-run."""
    plan = {key: value for key, value in version.plan_data.items() if key not in {"rerun_of"}}
    plan["rerun_of"] = {"execution": str(version.plan_id), "version": version.version}
    return plan


@dataclass
class StepChange:
    number: int
    kind: str  # added, removed, changed
    tool: str
    changes: list[str] = field(default_factory=list)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[StepChange]:
    """What changed from one plan to another, step by step (steps are matched by number)."""
    before = {step["number"]: step for step in old.get("steps", [])}
    after = {step["number"]: step for step in new.get("steps", [])}
    changes: list[StepChange] = []
    for number in sorted(set(before) | set(after)):
        if number not in before:
            step = after[number]
            changes.append(StepChange(number, "added", step["tool"], [f"input {_show(step.get('input', {}))}"]))
            continue
        if number not in after:
            changes.append(StepChange(number, "removed", before[number]["tool"]))
            continue
        a, b = before[number], after[number]
        found: list[str] = []
        if a["tool"] != b["tool"]:
            found.append(f"tool {a['tool']} → {b['tool']}")
        old_input, new_input = a.get("input", {}), b.get("input", {})
        for key in sorted(set(old_input) | set(new_input)):
            if key not in new_input:
                found.append(f"input {key} removed (was {_show(old_input[key])})")
            elif key not in old_input:
                found.append(f"input {key} added: {_show(new_input[key])}")
            elif old_input[key] != new_input[key]:
                found.append(f"input {key}: {_show(old_input[key])} → {_show(new_input[key])}")
        if a.get("depends_on", []) != b.get("depends_on", []):
            found.append(f"depends on {a.get('depends_on', [])} → {b.get('depends_on', [])}")
        if bool(a.get("optional")) != bool(b.get("optional")):
            found.append(f"optional {bool(a.get('optional'))} → {bool(b.get('optional'))}")
        if found:
            changes.append(StepChange(number, "changed", b["tool"], found))
    return changes


@dataclass
class Outcomes:
    runs: int = 0
    succeeded: int = 0
    ratings: list[int] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.runs if self.runs else None

    @property
    def mean_rating(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


def outcomes(execution: Execution) -> dict[int, Outcomes]:
    """Per version of the run's plan: the finished runs that carried it, their successes and ratings.

    The run itself carried the version whose steps its plan holds (the
    planner's, or an edit made before it started); every re-run carries the
    version it names.
    """
    versions = list(versions_of(execution))
    result = {version.version: Outcomes() for version in versions}
    ran_steps = (execution.plan or {}).get("steps") if isinstance(execution.plan, dict) else None
    carried = [v.version for v in versions if v.plan_data.get("steps") == ran_steps]
    rows: list[tuple[int, str, int | None]] = []
    if carried and execution.status in FINISHED_STATUSES:
        rating = getattr(getattr(execution, "feedback", None), "user_rating", None)
        rows.append((max(carried), execution.status, rating))
    reruns = Execution.objects.filter(
        workspace_id=execution.workspace_id, plan__rerun_of__execution=str(execution.pk), status__in=FINISHED_STATUSES
    ).values_list("plan__rerun_of__version", "status", "feedback__user_rating")
    rows.extend((int(v), status, rating) for v, status, rating in reruns if v is not None)
    for number, status, rating in rows:
        if number in result:
            result[number].runs += 1
            result[number].succeeded += status == ExecutionStatus.SUCCEEDED
            if rating is not None:
                result[number].ratings.append(rating)
    return result
