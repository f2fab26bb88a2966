"""Claiming a step: one conditional `UPDATE ... RETURNING`, and what it returns.

Of any number of workers handed the same step, exactly one takes it. The
statement returns everything the worker needs, so nothing is read before
or after it: the step's row, the run's workspace, the outputs and shared
context its input refers to, the ids of its dependents (its finish finds
their rows by primary key) and whether the workspace switched its tool off.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from orchestration.engine.heartbeat import lease_deadline
from orchestration.models import ExecutionStatus, ExecutionStep, StepStatus
from persistence.sql import prepared_cursor


@dataclass
class Follower:
    """A step that depends on the claimed one, as the claim found it."""

    id: uuid.UUID
    step_number: int
    agent_id: str
    tool: str
    # It waits for the claimed step alone: the claimed step's success makes it ready.
    waits_for_this_alone: bool


@dataclass
class Claimed:
    """A step this worker holds, with what the claim returned."""

    step: ExecutionStep
    workspace_id: uuid.UUID
    outputs: dict[str, Any]
    context: dict[str, Any]
    dependents: list[Follower]
    worker: str
    request_payload: dict[str, Any]
    # The workspace switched the step's tool off (tool catalogue) since the run was planned.
    switched_off: bool = False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def holder_is_dead(holder: str) -> bool:
    """Whether the worker process named in a claim is gone (decidable on its own host only)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# The outputs and context values the input refers to, found by walking the input in SQL, and the
# step's dependents: [id, number, agent, tool, how many steps it waits for] (its finish finds their rows by
# primary key and knows, before it counts them down, which one it will surely make ready).
_REFERENCED = {
    "sqlite": (
        "(SELECT json_group_object(CAST(d.step_number AS TEXT), json(d.output)) FROM execution_steps d"
        " WHERE d.execution_id = execution_steps.execution_id AND d.step_number IN"
        " (SELECT t.value FROM json_tree(execution_steps.input) t WHERE t.key = '$step' AND t.type = 'integer'))",
        "(SELECT json_group_object(c.key, json(c.value)) FROM shared_context c"
        " WHERE c.execution_id = execution_steps.execution_id AND (c.expires_at IS NULL OR c.expires_at > %s)"
        " AND c.key IN (SELECT t.value FROM json_tree(execution_steps.input) t WHERE t.key = '$context'))",
        # A scalar lookup per dependent (a join let SQLite walk the run's rows for each claim).
        "(SELECT json_group_array(json((SELECT json_array(d.id, d.step_number, d.agent_id, d.tool,"
        " json_array_length(d.depends_on)) FROM execution_steps d"
        " WHERE d.execution_id = execution_steps.execution_id AND d.step_number = n.value)))"
        " FROM json_each(execution_steps.dependents) n)",
    ),
    "postgresql": (
        # One equality lookup per reference: the unique (execution, step number) index, whatever the
        # statistics say (an IN list let a fresh database's planner walk the run's (execution, status)
        # entries instead, a cost that grew with the run).
        "(SELECT jsonb_object_agg(r.n::text, (SELECT d.output FROM execution_steps d"
        " WHERE d.execution_id = execution_steps.execution_id AND d.step_number = r.n))"
        " FROM (SELECT DISTINCT (v #>> '{}')::int AS n"
        " FROM jsonb_path_query(execution_steps.input, 'strict $.**.\"$step\"') v"
        " WHERE jsonb_typeof(v) = 'number' AND (v #>> '{}') ~ '^[0-9]{1,9}$') r)",
        "(SELECT jsonb_object_agg(c.key, c.value) FROM shared_context c"
        " WHERE c.execution_id = execution_steps.execution_id AND (c.expires_at IS NULL OR c.expires_at > %s)"
        " AND c.key IN (SELECT v #>> '{}' FROM jsonb_path_query(execution_steps.input, 'strict $.**.\"$context\"') v))",
        "(SELECT jsonb_agg((SELECT jsonb_build_array(d.id, d.step_number, d.agent_id, d.tool,"
        " jsonb_array_length(d.depends_on)) FROM execution_steps d WHERE d.execution_id = execution_steps.execution_id"
        " AND d.step_number = (n #>> '{}')::int)) FROM jsonb_array_elements(execution_steps.dependents) n)",
    ),
}

_CLAIM = (
    "UPDATE execution_steps SET status = %s, claimed_by = %s, lease_expires_at = %s, attempts = attempts + 1,"
    " started_at = %s, waiting_for = '', error = ''"
    " WHERE id = %s AND ({claimable})"
    " AND EXISTS (SELECT 1 FROM executions e WHERE e.id = execution_steps.execution_id AND e.status IN (%s, %s))"
    " RETURNING id, execution_id, step_number, agent_id, tool, input, depends_on, dependents, optional, attempts,"
    " max_attempts, timeout_seconds,"
    " (SELECT workspace_id FROM executions e WHERE e.id = execution_steps.execution_id), {outputs}, {context},"
    " {dependents},"
    # Read in the claim, so the per-workspace tool switch costs the step no query of its own.
    " EXISTS (SELECT 1 FROM workspace_tool_settings s WHERE s.tool_name = execution_steps.tool AND NOT s.enabled"
    " AND s.workspace_id = (SELECT workspace_id FROM executions e WHERE e.id = execution_steps.execution_id))"
)
_WAITING = (
    "(status IN (%s, %s) AND remaining_deps = 0 AND (retry_at IS NULL OR retry_at <= %s))"
    " OR (status = %s AND lease_expires_at < %s)"
)
_DEAD_HOLDER = "status = %s AND claimed_by = %s"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def db_uuid(value: uuid.UUID | str) -> Any:
    """A UUID as the database takes it: itself on PostgreSQL, 32 hex digits on SQLite (as UUIDField does)."""
    as_uuid = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return as_uuid if connection.features.has_native_uuid_field else as_uuid.hex


def claim(step_id: uuid.UUID | str, worker: str) -> Claimed | None:
    """Take the step for this worker, or None when it is not this worker's to run.

    The claim is one conditional UPDATE, so of two workers given the same
    step exactly one wins. A step is claimable when pending (its
    dependencies done and its retry time come), or running under a lease
    that ran out; only when that fails is the holder looked at, since a
    redelivered message may find it held by a process known to be dead.
    """
    now = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(*claim_statement(step_id, worker, now))
        row = cursor.fetchone()
    if row is None:
        running = ExecutionStep.objects.filter(pk=step_id, status=StepStatus.RUNNING)
        dead = next(iter(running.values_list("claimed_by", flat=True)), "")
        if not dead or not holder_is_dead(dead):
            return None
        with prepared_cursor() as cursor:
            cursor.execute(*_statement(step_id, worker, now, _DEAD_HOLDER, [StepStatus.RUNNING.value, dead]))
            row = cursor.fetchone()
        if row is None:
            return None
    return claimed_from(row, worker, now)


def claim_statement(step_id: uuid.UUID | str, worker: str, now: datetime) -> tuple[str, list[Any]]:
    """The claim of a step that waits for a worker (pending, or its lease ran out): SQL and parameters."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [StepStatus.PENDING.value, StepStatus.THROTTLED.value, adapt(now), StepStatus.RUNNING.value, adapt(now)]
    return _statement(step_id, worker, now, _WAITING, params)


def claimed_from(row: Any, worker: str, now: datetime) -> Claimed:
    """What a claim statement's row says, as the worker holds it (`now` is the claim's)."""
    (pk, execution_id, number, agent, tool, tool_input, depends_on, dependents, optional, attempts) = row[:10]
    max_attempts, timeout_seconds, workspace_id, outputs, context, followers, switched_off = row[10:]
    step = ExecutionStep(
        id=uuid.UUID(str(pk)),
        execution_id=uuid.UUID(str(execution_id)),
        step_number=number,
        agent_id=agent,
        tool=tool,
        input=_json(tool_input),
        depends_on=_json(depends_on),
        dependents=_json(dependents),
        optional=bool(optional),
        status=StepStatus.RUNNING,
        attempts=attempts,
        max_attempts=max_attempts,
        timeout_seconds=timeout_seconds,
        started_at=now,
        claimed_by=worker,
    )
    step._state.adding = False
    step._state.db = connection.alias
    return Claimed(
        step=step,
        workspace_id=uuid.UUID(str(workspace_id)),
        outputs=_json(outputs) or {},
        context=_json(context) or {},
        dependents=[_follower(*row) for row in _json(followers) or []],
        worker=worker,
        request_payload={"step": number, "tool": tool, "input": step.input, "attempt": attempts},
        switched_off=bool(switched_off),
    )


def _follower(pk: Any, number: int, agent: str, tool: str, waits_for: int) -> Follower:
    return Follower(uuid.UUID(str(pk)), number, agent, tool, waits_for_this_alone=waits_for == 1)


def _statement(
    step_id: uuid.UUID | str, worker: str, now: datetime, claimable: str, params: list[Any]
) -> tuple[str, list[Any]]:
    outputs, context, dependents = _REFERENCED["postgresql" if connection.vendor == "postgresql" else "sqlite"]
    sql = _CLAIM.format(claimable=claimable, outputs=outputs, context=context, dependents=dependents)
    adapt = connection.ops.adapt_datetimefield_value
    values = [StepStatus.RUNNING.value, worker, adapt(lease_deadline()), adapt(now), db_uuid(step_id), *params]
    values += [ExecutionStatus.RUNNING.value, ExecutionStatus.WAITING_APPROVAL.value, adapt(now)]
    return sql, values
