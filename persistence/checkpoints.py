"""Checkpoints: numbered recovery points of a run, each recording what changed.

A checkpoint is written when a run is planned (every step's starting state,
once), when a step ends (that step's state, its output reference and the
shared-context keys it wrote), while a long step runs (its tool's reported
progress, at least every ORCHESTRATE_CHECKPOINT_SECONDS) and when the run
ends. So a checkpoint costs the same whatever the size of the run, and
`rebuild_state()` folds them, in order, into the state of the whole run.

`state` holds {"reason", "status", "current_step", "total_steps", "steps":
{"<number>": {"status", "attempts", "cached", "output"?, "progress"?}}}
where `steps` names only the steps the checkpoint is about; `context` holds
only the keys written since the previous checkpoint.

Numbers are taken inside the statement that inserts the row (the highest
number of the run plus one). Two writers of the same run never race for a
number because every writer first updates the run's row in the same
transaction (`write_checkpoint` does; the step's finish already has), which
serialises them on that row.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from persistence.models import ExecutionCheckpoint
from persistence.sql import json_param, prepared_cursor

_INSERT = (
    "INSERT INTO execution_checkpoints (execution_id, checkpoint_number, state, context, created_at) "
    # The highest number as one step down the (execution, number) index: SQLite answers
    # MAX(...) WHERE execution_id = ... by reading every checkpoint of the run.
    "SELECT %s, COALESCE((SELECT c.checkpoint_number FROM execution_checkpoints c WHERE c.execution_id = %s"
    " ORDER BY c.checkpoint_number DESC LIMIT 1), 0) + 1, {state}, {context}, %s"
)


def _db_id(execution_id: uuid.UUID | str) -> Any:
    field = ExecutionCheckpoint._meta.get_field("execution").target_field
    return field.get_db_prep_value(uuid.UUID(str(execution_id)), connection)


# The run's status and counts, read from its row into the state by the insert itself.
_WITH_RUN_COUNTS = {
    "postgresql": "(%s::jsonb || (SELECT jsonb_build_object('status', e.status, 'current_step', e.current_step,"
    " 'total_steps', e.total_steps) FROM executions e WHERE e.id = %s))",
    "sqlite": "json_patch(%s, (SELECT json_object('status', e.status, 'current_step', e.current_step,"
    " 'total_steps', e.total_steps) FROM executions e WHERE e.id = %s))",
}


def insert_checkpoint(execution_id: uuid.UUID | str, state: dict[str, Any], context: dict[str, Any]) -> None:
    """The insert alone, for a caller whose transaction already updated the run's row."""
    with prepared_cursor() as cursor:
        cursor.execute(*checkpoint_statement(execution_id, state, context))


def checkpoint_statement(
    execution_id: uuid.UUID | str,
    state: dict[str, Any],
    context: dict[str, Any],
    *,
    with_run_counts: bool = False,
    unless: tuple[str, list[Any]] | None = None,
) -> tuple[str, list[Any]]:
    """The insert of the run's next checkpoint: SQL and parameters.

    With `with_run_counts` the state takes the run's status and counts from
    its row as the statement finds it, so a caller can send the insert in the
    same flight as the statement that counted a step (persistence/sql.py).
    `unless` is a condition (SQL and its parameters) the insert must meet.
    """
    run = _db_id(execution_id)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    encoded = json.dumps(state, default=str)
    context_json = json.dumps(context, default=str)
    if with_run_counts:
        sql = _INSERT.format(state=_WITH_RUN_COUNTS[connection.vendor], context=json_param())
        params = [run, run, encoded, run, context_json, now]
    else:
        sql, params = _INSERT.format(state=json_param(), context=json_param()), [run, run, encoded, context_json, now]
    if unless is not None:
        sql, params = f"{sql} WHERE {unless[0]}", [*params, *unless[1]]
    return sql, params


def write_checkpoint(execution_id: uuid.UUID | str, state: dict[str, Any], context: dict[str, Any]) -> None:
    """Save the next checkpoint of the run; safe when several workers write at once."""
    from orchestration.models import Execution

    with transaction.atomic():
        # Taking the run's row first serialises the writers of its checkpoint numbers.
        if Execution.objects.filter(pk=execution_id).update(updated_at=timezone.now()):
            insert_checkpoint(execution_id, state, context)


def latest_checkpoint(execution_id: uuid.UUID | str) -> ExecutionCheckpoint | None:
    return ExecutionCheckpoint.objects.filter(execution_id=execution_id).order_by("-checkpoint_number").first()


def step_progress(execution_id: uuid.UUID | str, step_number: int) -> dict[str, Any] | None:
    """The progress the step's tool last reported, from the last checkpoint about that step."""
    checkpoint = (
        ExecutionCheckpoint.objects.filter(execution_id=execution_id, state__steps__has_key=str(step_number))
        .order_by("-checkpoint_number")
        .only("state")
        .first()
    )
    if checkpoint is None:
        return None
    progress = checkpoint.state["steps"][str(step_number)].get("progress")
    return progress if isinstance(progress, dict) else None


def rebuild_state(execution_id: uuid.UUID | str) -> dict[str, Any]:
    """The run's state as of its last checkpoint: every checkpoint folded over the previous ones.

    A step's entry is merged key by key, so a later checkpoint that does not
    mention the step's progress keeps the earlier one (a running step's last
    report) until the step ends, when its progress is dropped.
    """
    state: dict[str, Any] = {"steps": {}, "context": {}}
    for checkpoint in ExecutionCheckpoint.objects.filter(execution_id=execution_id).order_by("checkpoint_number"):
        for key in ("reason", "status", "current_step", "total_steps"):
            if key in checkpoint.state:
                state[key] = checkpoint.state[key]
        for number, entry in checkpoint.state.get("steps", {}).items():
            merged = {**state["steps"].get(number, {}), **entry}
            if merged.get("status") not in ("running", None) and "progress" not in entry:
                merged.pop("progress", None)
            state["steps"][number] = merged
        state["context"].update(checkpoint.context or {})
        state["checkpoint_number"] = checkpoint.checkpoint_number
    return state
