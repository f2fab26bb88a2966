"""The life of one step, in two write transactions (one when it follows its predecessor on the same worker).

1. Claim (claiming.py): one conditional `UPDATE ... RETURNING` takes the
   step and returns everything the worker needs. No read comes before it.
2. Resolve the input, look in the cache, pass the safety gates, and call the
   tool inside a (buffered) span, while the process's heartbeat renews the
   lease.
3. Finish: one transaction stores the step's end and output, the attempt's
   REQUEST / RESPONSE and the NOTIFICATIONs to dependents in one insert, the
   shared context in one upsert, counts the dependents down (returning those
   now ready), counts the step in the run (returning the run's counts) and
   writes the step's checkpoint. Nothing the worker holds is read again. On
   PostgreSQL these statements fly together with the transaction's BEGIN
   (persistence/sql.py): the flight and the COMMIT are the finish's two
   round trips.

Then, off the database: progress events from what the worker holds, spans
and metrics into the process's telemetry batch, ready steps sent (quick
ones in batches), and the run finished when its count is complete. The
worker goes on with one step it made ready, or the next of its batch,
claimed in the same finish (`dispatch.continue_with`, `dispatch.send_steps`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import jsonschema
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from caching.services import cache_key, lookup, store
from monitoring.metrics import record_buffered
from monitoring.tracing import buffered_span, root_span_id
from orchestration.agents import ORCHESTRATOR
from orchestration.engine.calling import call_with_timeout
from orchestration.engine.checkpointing import step_entry
from orchestration.engine.claiming import Claimed, Follower, claim, claim_statement, claimed_from, db_uuid, worker_name
from orchestration.engine.dispatch import continue_with, enqueue_steps, note_duration, queued_stamp, send_steps
from orchestration.engine.gates import Refused, lock_holder, pass_gates
from orchestration.engine.heartbeat import Held, heartbeat
from orchestration.engine.infrastructure import DATABASE_ERRORS, StepInterrupted
from orchestration.engine.outputs import load_output, store_output
from orchestration.engine.references import UnresolvedReference, resolve
from orchestration.engine.runs import finish_if_done, skip_steps
from orchestration.events import RunCounts, publish, step_event, wait_sent
from orchestration.models import (
    AgentMessage,
    ExecutionStep,
    MessageType,
    StepStatus,
)
from orchestration.planning.schema import plugin_disabled
from persistence.checkpoints import checkpoint_statement, insert_checkpoint, step_progress
from persistence.sql import json_param, prepared_cursor, transaction_flight
from plugins import hooks as plugin_hooks
from safety.locks import release
from safety.secrets import open_secret
from tools.base import RetryableToolError, Tool, ToolCall, ToolError, ToolResult
from tools.registry import registry

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    result: ToolResult
    cached: bool


def run_step(step_ids: str) -> None:
    """Run the step (or each of a batch of quick steps, see `dispatch.send_steps`), then, for a while,
    the steps it made ready (see `dispatch.continue_with`)."""
    continue_until = time.monotonic() + settings.ORCHESTRATE_CONTINUE_SECONDS
    batch = deque(step_ids.split())
    following = claim(batch.popleft(), worker_name())
    announced = False
    while True:
        if following is None:
            if not batch:
                return
            if time.monotonic() >= continue_until:
                send_steps(list(batch))  # this worker's turn is over: the rest, one step per message
                return
            following, announced = claim(batch.popleft(), worker_name()), False
            continue
        claimed = following
        try:
            following = _run_claimed(claimed, continue_until, batch, announced=announced)
        except DATABASE_ERRORS as exc:
            # The database went away mid-step: not the step's failure. Its task runs it again.
            raise StepInterrupted(claimed.step.pk, claimed.worker, claimed.step.attempts, list(batch)) from exc
        # The step it goes on with was announced with the end of this one (one publish for both).
        announced = True


def _run_claimed(
    claimed: Claimed, continue_until: float = 0.0, batch: deque[str] | None = None, *, announced: bool = False
) -> Claimed | None:
    """Run a claimed step to its end; the step this worker runs next (one it made ready, or the next
    of its batch), already claimed for it.

    `announced`: its start was published already (with the end of the step before it).
    """
    step = claimed.step
    log = {"execution_id": str(step.execution_id), "step_number": step.step_number, "tool": step.tool}
    logger.info("Step %d (%s) started, attempt %d", step.step_number, step.tool, step.attempts, extra=log)
    if not announced:
        publish(step_event(step, claimed.workspace_id))
    if plugin_hooks.handles("step_starting"):
        plugin_hooks.call("step_starting", **_hook_facts(claimed))
    try:
        # Switched off after the plan was made: refused before anything of the tool runs.
        if claimed.switched_off:
            raise Refused(f"{step.tool} cannot run: it is switched off in this workspace's tool catalogue.")
        if plugin_disabled(step.tool):
            raise Refused(f"{step.tool} cannot run: its plugin is disabled.")
        tool = registry.resolve(step.tool, claimed.workspace_id)
        call = _prepare_call(claimed, tool)
        outcome = _execute(claimed, tool, call)
    except Refused as exc:
        _fail(claimed, str(exc), log, skip=step.optional)
        return None
    except RetryableToolError as exc:
        _retry_or_fail(claimed, str(exc), log)
        return None
    except (ToolError, UnresolvedReference, jsonschema.ValidationError, KeyError) as exc:
        message = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
        _fail(claimed, message, log)
        return None
    except DATABASE_ERRORS:
        raise
    except Exception as exc:
        logger.exception("Step %d crashed", step.step_number, extra=log)
        _fail(claimed, f"Unexpected error: {type(exc).__name__}: {exc}", log)
        return None
    if outcome is None:
        return None
    return _succeed(claimed, outcome, log, continue_until, batch if batch is not None else deque())


def _prepare_call(claimed: Claimed, tool: Tool) -> ToolCall:
    step = claimed.step

    def step_output(number: int) -> Any:
        if number not in step.depends_on:
            raise UnresolvedReference(f"Step {step.step_number} does not depend on step {number}")
        return load_output(
            claimed.outputs.get(str(number)),
            execution_id=step.execution_id,
            step_number=number,
            workspace_id=claimed.workspace_id,
        )

    def context_value(key: str) -> Any:
        if key not in claimed.context:
            raise UnresolvedReference(f"No shared context under {key!r}")
        return claimed.context[key]

    tool_input = resolve(
        step.input,
        step_output=step_output,
        context_value=context_value,
        secret_value=partial(open_secret, workspace_id=claimed.workspace_id),
    )
    _validate(tool_input, tool)
    resume_state = step_progress(step.execution_id, step.step_number) if step.attempts > 1 else None
    return ToolCall(
        input=tool_input,
        workspace_id=str(claimed.workspace_id),
        execution_id=str(step.execution_id),
        step_number=step.step_number,
        # The same on every attempt: a resumed step must not repeat an effect that happened.
        idempotency_key=f"{step.execution_id}:{step.step_number}",
        resume_state=resume_state,
        deadline=time.monotonic() + timeout_of(step),
    )


_validators: dict[tuple[str, str], Any] = {}


def _validate(tool_input: Any, tool: Tool) -> None:
    """`jsonschema.validate`, with the schema checked once per tool rather than on every call."""
    key = (tool.name, tool.version)
    validator = _validators.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(tool.input_schema)
        cls.check_schema(tool.input_schema)
        validator = _validators[key] = cls(tool.input_schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(tool_input))
    if error is not None:
        raise error


def timeout_of(step: ExecutionStep) -> float:
    return step.timeout_seconds or settings.ORCHESTRATE_STEP_TIMEOUT


def _execute(claimed: Claimed, tool: Tool, call: ToolCall) -> Outcome | None:
    """The tool's result (from the cache when it can be), or None when the step was parked or taken over."""
    step = claimed.step
    key = None
    if tool.cacheable:
        key = cache_key(
            tool=tool.name,
            version=tool.version,
            tool_input=call.input,
            workspace_id=call.workspace_id,
            fingerprint=tool.cache_fingerprint(call),
        )
        hit = lookup(key)
        if hit is not None:
            return Outcome(ToolResult(**hit.value), cached=True)
    locked = pass_gates(step, tool, call, claimed.worker)
    if locked is None:
        return None  # parked: it waits for a person, a lock or the next rate window
    held = heartbeat().hold(
        Held(
            step_id=step.pk,
            worker=claimed.worker,
            execution_id=step.execution_id,
            step_number=step.step_number,
            locked=list(locked),
            lock_holder=lock_holder(step),
        )
    )
    call.report_progress = held.report_progress
    call.is_cancelled = held.cancelled.is_set
    try:
        with buffered_span(
            f"step {step.step_number}: {tool.name}",
            execution_id=step.execution_id,
            parent_id=root_span_id(step.execution_id),
        ) as current:
            result = call_with_timeout(tool, call, timeout_of(step))
            current.metadata.update(tokens_used=result.tokens_used)
    finally:
        heartbeat().release(held)
        if locked:
            release(locked, lock_holder(step))
    if held.lost.is_set():
        logger.warning("Step %d lost its lease; its result is discarded", step.step_number)
        return None
    if key is not None:
        store(
            key,
            {
                "output": result.output,
                "tokens_used": result.tokens_used,
                "shared": result.shared,
                "summary": result.summary,
            },
            tool.cache_ttl_seconds,
        )
    return Outcome(result, cached=False)


def _end_step(claimed: Claimed, **changes: Any) -> bool:
    """Record the step's end if this worker still holds it."""
    step = claimed.step
    now = timezone.now()
    duration_ms = int((now - (step.started_at or now)).total_seconds() * 1000)
    ended = ExecutionStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, claimed_by=claimed.worker).update(
        completed_at=now, duration_ms=duration_ms, lease_expires_at=None, claimed_by="", **changes
    )
    if ended:
        step.duration_ms, step.completed_at, step.claimed_by = duration_ms, now, ""
        for name, value in changes.items():
            setattr(step, name, value)
    return bool(ended)


class _Lost(Exception):
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


def _end_and_count_down(claimed: Claimed, output: Any, tokens: int, cached: bool) -> tuple[str, list[Any]]:
    """The step's success and its count off its dependents: SQL and parameters (see `_counted_down`)."""
    step = claimed.step
    now = timezone.now()
    duration_ms = int((now - (step.started_at or now)).total_seconds() * 1000)
    adapt = connection.ops.adapt_datetimefield_value
    me = db_uuid(step.pk)
    stamp = queued_stamp()
    ids = [me, *(db_uuid(dependent.id) for dependent in claimed.dependents)]
    sql = _END_AND_COUNT_DOWN.format(json=json_param(), ids=", ".join(["%s"] * len(ids)))
    encoded = None if output is None else json.dumps(output, default=str)
    params: list[Any] = [me, StepStatus.SUCCEEDED.value, me, encoded, me, tokens, me, cached, me, adapt(now)]
    params += [me, duration_ms, me, me, me, me, StepStatus.PENDING.value, adapt(stamp) if stamp else None]
    params += [*ids, me, StepStatus.RUNNING.value, claimed.worker]
    step.status, step.output, step.tokens_used, step.cached = StepStatus.SUCCEEDED, output, tokens, cached
    step.duration_ms, step.completed_at, step.claimed_by = duration_ms, now, ""
    return sql, params


def _counted_down(claimed: Claimed, rows: list[tuple[Any, ...]]) -> list[uuid.UUID]:
    """The dependents the finish made ready; raises _Lost when the step's own row was not this worker's."""
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
        raise _Lost
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
        cursor.execute(*_count_finished(execution_id, finished))
        return RunCounts(*cursor.fetchone())


def _count_finished(execution_id: uuid.UUID, finished: int = 1) -> tuple[str, list[Any]]:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return _COUNT_FINISHED, [finished, now, db_uuid(execution_id)]


def _messages(claimed: Claimed, response: dict[str, Any], dependents: list[Follower]) -> list[AgentMessage]:
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


def _insert_messages(messages: list[AgentMessage]) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(*_messages_statement(messages))


def _messages_statement(messages: list[AgentMessage]) -> tuple[str, list[Any]]:
    """One INSERT of the attempt's messages, written without the ORM's per-object work on the hot path."""
    meta = AgentMessage._meta
    columns = ", ".join(connection.ops.quote_name(_column(AgentMessage, name)) for name in _MESSAGE_FIELDS)
    placeholders = ", ".join(["%s"] * 5 + [json_param(), "%s", "%s"])
    sql = f"INSERT INTO {meta.db_table} ({columns}) VALUES " + ", ".join([f"({placeholders})"] * len(messages))
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


def _share_statement(claimed: Claimed, shared: dict[str, Any]) -> tuple[str, list[Any]]:
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


def _succeed(
    claimed: Claimed, outcome: Outcome, log: dict[str, Any], continue_until: float, batch: deque[str]
) -> Claimed | None:
    step, result = claimed.step, outcome.result
    output = store_output(
        result.output, workspace_id=claimed.workspace_id, execution_id=step.execution_id, step_number=step.step_number
    )
    tokens = 0 if outcome.cached else result.tokens_used
    response = {"status": "succeeded", "cached": outcome.cached, "summary": result.summary}
    # A dependent that waits for this step alone is surely made ready, and the next step of the
    # batch is ready already: the step this worker goes on with is claimed in the finish's flight
    # (one round trip, one write commit for both).
    sure = next((dependent.id for dependent in claimed.dependents if dependent.waits_for_this_alone), None)
    candidate = sure or (uuid.UUID(batch[0]) if batch else None)
    going_on_with, _ = continue_with([candidate] if candidate else [], continue_until)
    try:
        with transaction_flight() as statements:
            following_row = None
            ended = statements.execute(*_end_and_count_down(claimed, output, tokens, outcome.cached))
            statements.execute(*_messages_statement(_messages(claimed, response, claimed.dependents)))
            if result.shared:
                statements.execute(*_share_statement(claimed, result.shared))
            counted = statements.execute(*_count_finished(step.execution_id))
            statements.execute(*_step_checkpoint(claimed, outcome, output))
            # The step it goes on with starts as this one ends.
            started = step.completed_at or timezone.now()
            if going_on_with is not None:
                following_row = statements.execute(*claim_statement(going_on_with, claimed.worker, started))
            statements.land()
            ready = _counted_down(claimed, ended.rows)
            counts = RunCounts(*counted.rows[0])
            if going_on_with is not None and going_on_with != sure:
                batch.popleft()  # claimed now, or taken by another worker meanwhile: either way not ours to send
            following = None
            if following_row is not None and following_row.rows:
                following = claimed_from(following_row.rows[0], claimed.worker, started)
                others = [pk for pk in ready if pk != following.step.pk]
            else:
                # A join made ready by its last dependency: claimed in the same commit all the same.
                mine, others = continue_with(ready, continue_until)
                following = claim(mine, claimed.worker) if mine is not None else None
    except _Lost:
        logger.warning("Step %d was taken over before it ended; its result is discarded", step.step_number)
        return None
    if not outcome.cached:
        note_duration(step.tool, step.duration_ms or 0)
    logger.info(
        "Step %d (%s) succeeded%s", step.step_number, step.tool, " from the cache" if outcome.cached else "", extra=log
    )
    record_buffered(
        [
            ("step.duration_ms", step.duration_ms or 0, {"tool": step.tool, "cached": outcome.cached}),
            ("step.tokens", tokens, {"tool": step.tool}),
            *([("cache.hit", 1, {"tool": step.tool})] if outcome.cached else []),
        ]
    )
    _after_step(claimed, counts, others, following)
    return following


def _step_checkpoint(claimed: Claimed, outcome: Outcome, output: Any) -> tuple[str, list[Any]]:
    """The checkpoint of the step's end, with the run's counts as the finish left them."""
    step = claimed.step
    entry = step_entry(step.status, step.attempts, outcome.cached, output)
    state = {"reason": f"step {step.step_number} ended", "steps": {str(step.step_number): entry}}
    return checkpoint_statement(step.execution_id, state, outcome.result.shared, with_run_counts=True)


def _hook_facts(claimed: Claimed) -> dict[str, Any]:
    step = claimed.step
    return {
        "workspace_id": claimed.workspace_id,
        "execution_id": step.execution_id,
        "data": {
            "step_number": step.step_number,
            "tool": step.tool,
            "agent": step.agent_id,
            "attempt": step.attempts,
            "status": step.status,
            "error": step.error,
        },
    }


def _after_step(
    claimed: Claimed, counts: RunCounts, ready: list[uuid.UUID] | None = None, following: Claimed | None = None
) -> None:
    """Tell the pages and hooks, send the steps made ready to other workers, end the run when complete."""
    events = [step_event(claimed.step, claimed.workspace_id, counts)]
    if following is not None:
        events.append(step_event(following.step, following.workspace_id))
    sent = publish(*events)
    if plugin_hooks.handles("step_finished"):
        # Before the dependents start and the run ends, so hooks see a run's steps in order.
        plugin_hooks.call("step_finished", **_hook_facts(claimed))
    if ready:
        # Pages hear that this step ended before any of the steps it made ready start
        # (the one this worker goes on with is announced in the same publish, after this event).
        wait_sent(sent)
        send_steps(ready, tools={dependent.id: dependent.tool for dependent in claimed.dependents})
    if counts.current_step >= counts.total_steps:
        finish_if_done(claimed.step.execution_id)


def _retry_or_fail(claimed: Claimed, error: str, log: dict[str, Any]) -> None:
    step = claimed.step
    if step.attempts >= step.max_attempts:
        _fail(claimed, f"{error} (gave up after {step.attempts} attempts)", log)
        return
    delay = settings.ORCHESTRATE_RETRY_BACKOFF * 2 ** (step.attempts - 1)
    waiting_for = f"retry {step.attempts + 1} of {step.max_attempts} in {delay:g}s"
    with transaction.atomic():
        if not ExecutionStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, claimed_by=claimed.worker).update(
            status=StepStatus.PENDING,
            claimed_by="",
            lease_expires_at=None,
            error=error,
            retry_at=timezone.now() + timedelta(seconds=delay),
            waiting_for=waiting_for,
        ):
            return
        _insert_messages(_messages(claimed, {"status": "retrying", "error": error}, []))
        enqueue_steps([step.pk], delay=delay)
    step.status, step.error, step.waiting_for = StepStatus.PENDING, error, waiting_for
    logger.warning("Step %d will retry in %gs: %s", step.step_number, delay, error, extra=log)
    publish(step_event(step, claimed.workspace_id))


def _fail(claimed: Claimed, error: str, log: dict[str, Any], *, skip: bool = False) -> None:
    """End the step failed (or skipped, when a person refused an optional step); the run follows."""
    step = claimed.step
    status = StepStatus.SKIPPED if skip else StepStatus.FAILED
    with transaction.atomic():
        if not _end_step(claimed, status=status, error=error):
            return
        _insert_messages(_messages(claimed, {"status": status, "error": error}, []))
        counts = count_finished(step.execution_id)
        if step.optional:
            skipped = skip_steps(
                step.execution_id, downstream_of(step), f"Not run: optional step {step.step_number} failed."
            )
        else:
            skipped = skip_steps(step.execution_id, None, f"Not run: step {step.step_number} failed.")
        counts.current_step += skipped
        insert_checkpoint(
            step.execution_id,
            state={
                "reason": f"step {step.step_number} ended",
                **counts.as_state(),
                "steps": {str(step.step_number): step_entry(status, step.attempts)},
            },
            context={},
        )
    logger.error("Step %d (%s) %s: %s", step.step_number, step.tool, status, error, extra=log)
    _after_step(claimed, counts)


def downstream_of(step: ExecutionStep) -> set[int]:
    """Every step that depends on this one, directly or through others."""
    graph = dict(ExecutionStep.objects.filter(execution_id=step.execution_id).values_list("step_number", "dependents"))
    found: set[int] = set()
    frontier = list(step.dependents)
    while frontier:
        number = frontier.pop()
        if number not in found:
            found.add(number)
            frontier.extend(graph.get(number, []))
    return found
