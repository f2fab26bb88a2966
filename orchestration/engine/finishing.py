"""What a step's end writes: the statements of its finish, built from what the worker holds.

steps.py runs them: on success all in one flight with the claim of the
next step (persistence/sql.py), on failure or retry one by one. Each
builder returns SQL and parameters, so a caller may send several together.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from orchestration.agents import ORCHESTRATOR
from orchestration.engine.checkpointing import step_entry
from orchestration.engine.claiming import Claimed, Follower, db_uuid
from orchestration.engine.dispatch import queued_stamp
from orchestration.events import RunCounts
from orchestration.models import AgentMessage, MessageType, StepStatus
from persistence.checkpoints import checkpoint_statement
from persistence.sql import Flight, json_param, prepared_cursor, transaction_flight


class Lost(Exception):
    """The step was taken over before its end was stored: its finish is rolled back."""


# The step's end and the countdown of its dependents, in one statement: the
# step's own row is changed only while this worker holds it, its dependents
# are counted down, and those now ready are stamped as sent.
_END_AND_COUNT_DOWN = (
    "UPDATE execution_steps SET"
    " status = CASE WHEN id = %s THEN %s ELSE status END,"
    " output = CASE WHEN id = %s THEN {json} ELSE output END,"
    " tokens_used = CASE WHEN id = %s THEN %s ELSE tokens_used END,"
    " cached = CASE WHEN id = %s THEN %s ELSE cached END,"
    " completed_at = CASE WHEN id = %s THEN %s ELSE completed_at END,"
    " duration_ms = CASE WHEN id = %s THEN %s ELSE duration_ms END,"
    " lease_expires_at = CASE WHEN id = %s THEN NULL ELSE lease_expires_at END,"
    " claimed_by = CASE WHEN id = %s THEN '' ELSE claimed_by END,"
    " remaining_deps = CASE WHEN id = %s THEN remaining_deps ELSE remaining_deps - 1 END,"
    " queued_at = CASE WHEN id <> %s AND remaining_deps = 1 AND status = %s THEN %s ELSE queued_at END"
    # Primary keys only (the claim returned the dependents' ids): lookups in the primary key index,
    # whatever the size of the run and whatever the planner's statistics say.
    " WHERE id IN ({ids}) AND (id <> %s OR (status = %s AND claimed_by = %s))"
    " RETURNING id, remaining_deps, status"
)

# On PostgreSQL the same as two updates in one statement, the step's own row and its dependents each
# found by primary key. The statement is prepared, and PostgreSQL keeps the plan it chose once for the
# connection's life; for two ids or more, it weighs a scan of the table against one index lookup per
# id, and on a table it has no statistics for (never analysed, as where autovacuum is off) it chose,
# while the table was small, a sequential scan, whose cost then grew with every step stored (0.1 ms at
# 400 steps in the table, 0.85 ms at 4,400: a chain of 1,000 slowed run after run). A single id is
# always an index lookup; a step with several dependents is planned each time (`prepared_end`).
# (With the status in the WHERE, a fresh database's planner walked the (status, lease) index instead
# of the primary key: the condition on the step's own row stays in the form below.)
_END_PG = (
    "WITH ended AS (UPDATE execution_steps SET status = %s, output = {json}, tokens_used = %s, cached = %s,"
    " completed_at = %s, duration_ms = %s, lease_expires_at = NULL, claimed_by = ''"
    " WHERE id IN (%s) AND (id <> %s OR (status = %s AND claimed_by = %s)) RETURNING id, remaining_deps, status)"
)
_COUNT_DOWN_PG = (
    ", counted AS (UPDATE execution_steps SET remaining_deps = remaining_deps - 1,"
    " queued_at = CASE WHEN remaining_deps = 1 AND status = %s THEN %s ELSE queued_at END"
    " WHERE id IN ({ids}) RETURNING id, remaining_deps, status)"
    " SELECT id, remaining_deps, status FROM ended UNION ALL SELECT id, remaining_deps, status FROM counted"
)


def end_and_count_down(claimed: Claimed, output: Any, tokens: int, cached: bool) -> tuple[str, list[Any]]:
    """The step's success and its count off its dependents: SQL and parameters (see `counted_down`)."""
    step = claimed.step
    now = timezone.now()
    duration_ms = int((now - (step.started_at or now)).total_seconds() * 1000)
    adapt = connection.ops.adapt_datetimefield_value
    me = db_uuid(step.pk)
    stamp = adapt(queued_stamp())
    dependents = [db_uuid(dependent.id) for dependent in claimed.dependents]
    encoded = None if output is None else json.dumps(output, default=str)
    step.status, step.output, step.tokens_used, step.cached = StepStatus.SUCCEEDED, output, tokens, cached
    step.duration_ms, step.completed_at, step.claimed_by = duration_ms, now, ""
    if connection.vendor == "postgresql":
        sql = _END_PG.format(json=json_param())
        params: list[Any] = [StepStatus.SUCCEEDED.value, encoded, tokens, cached, adapt(now), duration_ms]
        params += [me, me, StepStatus.RUNNING.value, claimed.worker]
        if not dependents:
            return sql + " SELECT id, remaining_deps, status FROM ended", params
        sql += _COUNT_DOWN_PG.format(ids=", ".join(["%s"] * len(dependents)))
        return sql, [*params, StepStatus.PENDING.value, stamp, *dependents]
    ids = [me, *dependents]
    sql = _END_AND_COUNT_DOWN.format(json=json_param(), ids=", ".join(["%s"] * len(ids)))
    params = [me, StepStatus.SUCCEEDED.value, me, encoded, me, tokens, me, cached, me, adapt(now)]
    params += [me, duration_ms, me, me, me, me, StepStatus.PENDING.value, stamp]
    return sql, [*params, *ids, me, StepStatus.RUNNING.value, claimed.worker]


def prepared_end(claimed: Claimed) -> bool:
    """Whether the end's statement may be prepared: a plan for one dependent at most (see `_END_PG`)."""
    return len(claimed.dependents) <= 1


def counted_down(claimed: Claimed, rows: list[tuple[Any, ...]]) -> list[uuid.UUID]:
    """The dependents the finish made ready; raises Lost when the step's own row was not this worker's."""
    mine = uuid.UUID(str(claimed.step.pk))
    ready = []
    ended = False
    for pk, remaining, status in rows:
        row_id = uuid.UUID(str(pk))
        if row_id == mine:
            ended = True
        elif remaining == 0 and status == StepStatus.PENDING:
            ready.append(row_id)
    if not ended:
        raise Lost
    return ready


_COUNT_FINISHED = (
    "UPDATE executions SET current_step = current_step + %s, updated_at = %s WHERE id = %s"
    " RETURNING status, current_step, total_steps, error"
)


def count_finished(execution_id: uuid.UUID, finished: int = 1) -> RunCounts:
    """Count steps as finished in the run; the run's status and counts after that.

    Updating the run's row also serialises the writers of its checkpoint
    numbers (see persistence/checkpoints.py), so it comes before the checkpoint.
    """
    with prepared_cursor() as cursor:
        cursor.execute(*count_finished_statement(execution_id, finished))
        return RunCounts(*cursor.fetchone())


def count_finished_statement(execution_id: uuid.UUID, finished: int = 1) -> tuple[str, list[Any]]:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return _COUNT_FINISHED, [finished, now, db_uuid(execution_id)]


# A guard for the last write of a step's finish: on PostgreSQL it divides by zero, which rolls the whole
# finish back, when the step's end (by this transaction) is not in its row, because another worker took
# the step over. The finish's COMMIT flies with its statements (persistence/sql.py), so nothing can wait
# for their rows to decide. On SQLite 1/0 is NULL: the guarded statement writes nothing, and
# `counted_down` sees the step's row missing. It guards the checkpoint's insert, a row no other worker
# waits for. The step's row is found by its primary key alone and the rest compared after: with the
# status in the WHERE, a fresh database's planner (no statistics yet) walked the (status, lease) index,
# and a fan-out's steps cost a third more.
_STEP_ENDED_HERE = (
    "1 / COALESCE((SELECT CASE WHEN s.status = %s AND s.claimed_by = '' AND s.completed_at = %s THEN 1 ELSE 0 END"
    " FROM execution_steps s WHERE s.id = %s), 0) = 1"
)
LOST_SQLSTATE = "22012"  # division_by_zero


def _ended_here(claimed: Claimed) -> tuple[str, list[Any]]:
    step = claimed.step
    ended_at = connection.ops.adapt_datetimefield_value(step.completed_at)
    return _STEP_ENDED_HERE, [StepStatus.SUCCEEDED.value, ended_at, db_uuid(step.pk)]


@contextmanager
def finish_flight() -> Iterator[Flight]:
    """`transaction_flight` for a step's finish: Lost when its guard found the step taken over.

    In a pipeline the guard's error surfaces at whichever later statement of
    the flight reads the server's answers, or when it lands: anywhere in the block.
    """
    try:
        with transaction_flight() as statements:
            yield statements
    except Exception as exc:  # the driver's own error, or Django's wrapping it
        if LOST_SQLSTATE in (getattr(exc, "sqlstate", None), getattr(exc.__cause__, "sqlstate", None)):
            raise Lost from exc
        raise


def attempt_messages(claimed: Claimed, response: dict[str, Any], dependents: list[Follower]) -> list[AgentMessage]:
    """The attempt's REQUEST, the agent's RESPONSE, and a NOTIFICATION to each dependent's agent."""
    step = claimed.step
    request = AgentMessage(
        id=uuid.uuid4(),
        execution_id=step.execution_id,
        from_agent=ORCHESTRATOR,
        to_agent=step.agent_id,
        message_type=MessageType.REQUEST,
        payload=claimed.request_payload,
    )
    answer = AgentMessage(
        id=uuid.uuid4(),
        execution_id=step.execution_id,
        from_agent=step.agent_id,
        to_agent=ORCHESTRATOR,
        message_type=MessageType.RESPONSE,
        in_reply_to_id=request.id,
        payload={"step": step.step_number, **response},
    )
    notifications = [
        AgentMessage(
            id=uuid.uuid4(),
            execution_id=step.execution_id,
            from_agent=step.agent_id,
            to_agent=dependent.agent_id,
            message_type=MessageType.NOTIFICATION,
            in_reply_to_id=answer.id,
            payload={
                "step": step.step_number,
                "ready_for_step": dependent.step_number,
                "summary": response.get("summary", ""),
            },
        )
        for dependent in dependents
    ]
    return [request, answer, *notifications]


_MESSAGE_FIELDS = ("id", "execution", "from_agent", "to_agent", "message_type", "payload", "in_reply_to", "created_at")


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return str(field.column)


def insert_messages(messages: list[AgentMessage]) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(*messages_statement(messages))


@lru_cache(maxsize=64)
def _messages_sql(vendor: str, count: int) -> str:
    columns = ", ".join(connection.ops.quote_name(_column(AgentMessage, name)) for name in _MESSAGE_FIELDS)
    placeholders = ", ".join(["%s"] * 5 + [json_param(), "%s", "%s"])
    return f"INSERT INTO {AgentMessage._meta.db_table} ({columns}) VALUES " + ", ".join([f"({placeholders})"] * count)


def messages_statement(messages: list[AgentMessage]) -> tuple[str, list[Any]]:
    """One INSERT of the attempt's messages, written without the ORM's per-object work on the hot path."""
    sql = _messages_sql(connection.vendor, len(messages))
    now = timezone.now()
    params: list[Any] = []
    for index, message in enumerate(messages):
        # Distinct, increasing times keep the timeline's order (request, response, notifications).
        message.created_at = now + timedelta(microseconds=index)
        params += [
            db_uuid(message.id),
            db_uuid(message.execution_id),
            message.from_agent,
            message.to_agent,
            message.message_type,
            json.dumps(message.payload, default=str),
            db_uuid(message.in_reply_to_id) if message.in_reply_to_id else None,
            connection.ops.adapt_datetimefield_value(message.created_at),
        ]
    return sql, params


_SHARE = (
    "INSERT INTO shared_context (execution_id, key, value, created_by, created_at) VALUES {rows}"
    " ON CONFLICT (execution_id, key) DO UPDATE SET value = excluded.value, created_by = excluded.created_by"
)


def share_statement(claimed: Claimed, shared: dict[str, Any]) -> tuple[str, list[Any]]:
    """The upsert of what the step shared, one row per key (a key written before takes the new value)."""
    step = claimed.step
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = ", ".join([f"(%s, %s, {json_param()}, %s, %s)"] * len(shared))
    params: list[Any] = []
    for key, value in shared.items():
        # None is SQL NULL, as the ORM stores it in a JSON field.
        encoded = None if value is None else json.dumps(value, default=str)
        params += [db_uuid(step.execution_id), key, encoded, step.agent_id, now]
    return _SHARE.format(rows=rows), params


def step_checkpoint(claimed: Claimed, cached: bool, output: Any, shared: dict[str, Any]) -> tuple[str, list[Any]]:
    """The checkpoint of the step's end, with the run's counts as the finish left them; refused (see
    `_STEP_ENDED_HERE`) when the step's end is not the one this finish wrote."""
    step = claimed.step
    entry = step_entry(step.status, step.attempts, cached, output)
    state = {"reason": f"step {step.step_number} ended", "steps": {str(step.step_number): entry}}
    return checkpoint_statement(step.execution_id, state, shared, with_run_counts=True, unless=_ended_here(claimed))
