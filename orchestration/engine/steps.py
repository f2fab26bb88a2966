"""The life of one step: claimed, run, finished (the finish's statements are in finishing.py).

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
from django.db import transaction
from django.utils import timezone

from caching.services import cache_key, lookup, store
from monitoring.metrics import record_buffered
from monitoring.tracing import buffered_span, root_span_id
from orchestration.engine.calling import call_with_timeout
from orchestration.engine.checkpointing import step_entry
from orchestration.engine.claiming import Claimed, claim, claim_statement, claimed_from, worker_name
from orchestration.engine.dispatch import continue_with, enqueue_steps, note_duration, send_steps
from orchestration.engine.ending import finish_if_done
from orchestration.engine.finishing import (
    Lost,
    attempt_messages,
    count_finished,
    count_finished_statement,
    counted_down,
    end_and_count_down,
    finish_flight,
    insert_messages,
    messages_statement,
    prepared_end,
    share_statement,
    step_checkpoint,
)
from orchestration.engine.gates import Refused, lock_holder, pass_gates
from orchestration.engine.heartbeat import Held, heartbeat
from orchestration.engine.infrastructure import DATABASE_ERRORS, StepInterrupted
from orchestration.engine.outputs import load_output, store_output
from orchestration.engine.references import UnresolvedReference, resolve
from orchestration.engine.runs import skip_steps
from orchestration.events import RunCounts, step_event
from orchestration.models import (
    ExecutionStep,
    StepStatus,
)
from orchestration.planning.schema import plugin_disabled
from orchestration.publishing import publish, wait_sent
from persistence.checkpoints import insert_checkpoint, step_progress
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
        publish(step_event(step, claimed.workspace_id), hold=True)
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
        with finish_flight() as statements:
            following_row = None
            ended = statements.execute(
                *end_and_count_down(claimed, output, tokens, outcome.cached), prepare=prepared_end(claimed)
            )
            statements.execute(*messages_statement(attempt_messages(claimed, response, claimed.dependents)))
            if result.shared:
                statements.execute(*share_statement(claimed, result.shared))
            counted = statements.execute(*count_finished_statement(step.execution_id))
            statements.execute(*step_checkpoint(claimed, outcome.cached, output, result.shared))
            # The step it goes on with starts as this one ends.
            started = step.completed_at or timezone.now()
            if going_on_with is not None:
                following_row = statements.execute(*claim_statement(going_on_with, claimed.worker, started))
            statements.land()  # on PostgreSQL, with the COMMIT
            ready = counted_down(claimed, ended.rows)
            counts = RunCounts(*counted.rows[0])
            if going_on_with is not None and going_on_with != sure:
                batch.popleft()  # claimed now, or taken by another worker meanwhile: either way not ours to send
            following = None
            if following_row is not None and following_row.rows:
                following = claimed_from(following_row.rows[0], claimed.worker, started)
                others = [pk for pk in ready if pk != following.step.pk]
            else:
                # A join made ready by its last dependency: claimed now (on PostgreSQL in a commit of its own).
                mine, others = continue_with(ready, continue_until)
                following = claim(mine, claimed.worker) if mine is not None else None
    except Lost:
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
    run_complete = counts.current_step >= counts.total_steps
    # Held back a moment with the next steps' events, unless other workers or the run's end come next.
    sent = publish(*events, hold=not ready and not run_complete)
    if plugin_hooks.handles("step_finished"):
        # Before the dependents start and the run ends, so hooks see a run's steps in order.
        plugin_hooks.call("step_finished", **_hook_facts(claimed))
    if ready:
        # Pages hear that this step ended before any of the steps it made ready start
        # (the one this worker goes on with is announced in the same publish, after this event).
        wait_sent(sent)
        send_steps(ready, tools={dependent.id: dependent.tool for dependent in claimed.dependents})
    if run_complete:
        finish_if_done(claimed.step.execution_id, (counts.current_step, counts.total_steps))


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
        insert_messages(attempt_messages(claimed, {"status": "retrying", "error": error}, []))
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
        insert_messages(attempt_messages(claimed, {"status": status, "error": error}, []))
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
