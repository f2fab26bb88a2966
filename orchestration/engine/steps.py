"""The life of one step.

claim (one worker only) -> resolve input -> cache -> call the tool inside a
span, with a heartbeat and a timeout -> store output, duration, tokens ->
shared context and agent messages -> checkpoint -> progress event ->
dispatch what became ready, or finish the run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jsonschema
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from caching.services import cache_key, lookup, store
from monitoring.metrics import record_many
from monitoring.tracing import root_span_of, span
from orchestration.agents import ORCHESTRATOR
from orchestration.engine.calling import call_with_timeout
from orchestration.engine.checkpointing import checkpoint_run
from orchestration.engine.dispatch import enqueue_steps
from orchestration.engine.gates import Refused, lock_holder, pass_gates
from orchestration.engine.heartbeat import StepHeartbeat, lease_deadline
from orchestration.engine.outputs import load_output, store_output
from orchestration.engine.references import UnresolvedReference, resolve
from orchestration.engine.runs import finish_if_done, skip_steps
from orchestration.events import publish_execution, publish_step
from orchestration.models import (
    AgentMessage,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    MessageType,
    SharedContext,
    StepStatus,
)
from persistence.checkpoints import latest_checkpoint, step_progress
from safety.locks import release
from tools.base import RetryableToolError, Tool, ToolCall, ToolError, ToolResult
from tools.registry import registry

logger = logging.getLogger(__name__)


# Other steps keep running while one waits for a person.
RUNNABLE_RUNS = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_APPROVAL)


@dataclass
class Outcome:
    result: ToolResult
    cached: bool


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _holder_is_dead(holder: str) -> bool:
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


def claim(step_id: str, worker: str) -> ExecutionStep | None:
    """Take the step for this worker, or None when it is not this worker's to run.

    The claim is one conditional UPDATE on the step's own columns, so of two
    workers given the same step exactly one wins. A step is claimable when
    pending (and its retry time has come), or running under a lease that ran
    out or a holder process that is known dead (a redelivered message).
    """
    step = ExecutionStep.objects.filter(pk=step_id).only("status", "claimed_by", "execution_id").first()
    if step is None:
        return None
    if not Execution.objects.filter(pk=step.execution_id, status__in=RUNNABLE_RUNS).exists():
        return None
    now = timezone.now()
    waiting = Q(status__in=[StepStatus.PENDING, StepStatus.THROTTLED], remaining_deps=0)
    claimable = waiting & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    claimable |= Q(status=StepStatus.RUNNING, lease_expires_at__lt=now)
    if step.status == StepStatus.RUNNING and step.claimed_by and _holder_is_dead(step.claimed_by):
        claimable |= Q(status=StepStatus.RUNNING, claimed_by=step.claimed_by)
    won = ExecutionStep.objects.filter(claimable, pk=step_id).update(
        status=StepStatus.RUNNING,
        claimed_by=worker,
        lease_expires_at=lease_deadline(),
        attempts=F("attempts") + 1,
        started_at=now,
        waiting_for="",
        error="",
    )
    if not won:
        return None
    # The plan can be large (hundreds of KiB for a long run); a step needs none of it.
    return (
        ExecutionStep.objects.select_related("execution").defer("execution__plan", "execution__result").get(pk=step_id)
    )


def run_step(step_id: str) -> None:
    worker = worker_name()
    step = claim(step_id, worker)
    if step is None:
        return
    execution = step.execution
    log = {"execution_id": str(execution.pk), "step_number": step.step_number, "tool": step.tool}
    logger.info("Step %d (%s) started, attempt %d", step.step_number, step.tool, step.attempts, extra=log)
    publish_step(step.pk)
    request = AgentMessage.objects.create(
        execution=execution,
        from_agent=ORCHESTRATOR,
        to_agent=step.agent_id,
        message_type=MessageType.REQUEST,
        payload={"step": step.step_number, "tool": step.tool, "input": step.input, "attempt": step.attempts},
    )
    try:
        tool = registry.get(step.tool)
        call = _prepare_call(step, tool)
        outcome = _execute(step, tool, call, worker)
    except Refused as exc:
        _fail(step, worker, str(exc), request, log, skip=step.optional)
        return
    except RetryableToolError as exc:
        _retry_or_fail(step, worker, str(exc), request, log)
        return
    except (ToolError, UnresolvedReference, jsonschema.ValidationError, KeyError) as exc:
        message = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
        _fail(step, worker, message, request, log)
        return
    except Exception as exc:
        logger.exception("Step %d crashed", step.step_number, extra=log)
        _fail(step, worker, f"Unexpected error: {type(exc).__name__}: {exc}", request, log)
        return
    if outcome is not None:
        _succeed(step, worker, outcome, request, log)


def _prepare_call(step: ExecutionStep, tool: Tool) -> ToolCall:
    execution_id = step.execution_id

    def step_output(number: int) -> Any:
        if number not in step.depends_on:
            raise UnresolvedReference(f"Step {step.step_number} does not depend on step {number}")
        output = ExecutionStep.objects.filter(execution_id=execution_id, step_number=number).values_list(
            "output", flat=True
        )
        return load_output(output.first())

    def context_value(key: str) -> Any:
        entry = (
            SharedContext.objects.filter(execution_id=execution_id, key=key)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .first()
        )
        if entry is None:
            raise UnresolvedReference(f"No shared context under {key!r}")
        return entry.value

    tool_input = resolve(step.input, step_output=step_output, context_value=context_value)
    jsonschema.validate(tool_input, tool.input_schema)
    resume_state = step_progress(latest_checkpoint(execution_id), step.step_number) if step.attempts > 1 else None
    return ToolCall(
        input=tool_input,
        workspace_id=str(step.execution.workspace_id),
        execution_id=str(execution_id),
        step_number=step.step_number,
        # The same on every attempt: a resumed step must not repeat an effect that happened.
        idempotency_key=f"{execution_id}:{step.step_number}",
        resume_state=resume_state,
        deadline=time.monotonic() + timeout_of(step),
    )


def timeout_of(step: ExecutionStep) -> float:
    return step.timeout_seconds or settings.ORCHESTRATE_STEP_TIMEOUT


def _execute(step: ExecutionStep, tool: Tool, call: ToolCall, worker: str) -> Outcome | None:
    """The tool's result (from the cache when it can be), or None when the step was parked or taken over."""
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
    locked = pass_gates(step, tool, call, worker)
    if locked is None:
        return None  # parked: it waits for a person, a lock or the next rate window
    parent = root_span_of(step.execution_id)
    try:
        with StepHeartbeat(step, worker, locked=locked, lock_holder=lock_holder(step)) as heartbeat:
            call.report_progress = heartbeat.report_progress
            call.is_cancelled = heartbeat.cancelled.is_set
            with span(
                f"step {step.step_number}: {tool.name}", execution_id=step.execution_id, parent=parent
            ) as current:
                result = call_with_timeout(tool, call, timeout_of(step))
                current.metadata.update(tokens_used=result.tokens_used)
    finally:
        release(locked, lock_holder(step))
    if heartbeat.lost.is_set():
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


def _finish_step(step: ExecutionStep, worker: str, **changes: Any) -> bool:
    """Record the step's end if this worker still holds it; count it in the run's progress."""
    now = timezone.now()
    duration_ms = int((now - (step.started_at or now)).total_seconds() * 1000)
    ended = ExecutionStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, claimed_by=worker).update(
        completed_at=now, duration_ms=duration_ms, lease_expires_at=None, claimed_by="", **changes
    )
    if ended:
        step.duration_ms = duration_ms
        Execution.objects.filter(pk=step.execution_id).update(current_step=F("current_step") + 1, updated_at=now)
    return bool(ended)


def _succeed(step: ExecutionStep, worker: str, outcome: Outcome, request: AgentMessage, log: dict[str, Any]) -> None:
    result = outcome.result
    execution = step.execution
    output = store_output(
        result.output, workspace_id=execution.workspace_id, execution_id=execution.pk, step_number=step.step_number
    )
    tokens = 0 if outcome.cached else result.tokens_used
    with transaction.atomic():
        if not _finish_step(
            step, worker, status=StepStatus.SUCCEEDED, output=output, tokens_used=tokens, cached=outcome.cached
        ):
            return
        for key, value in result.shared.items():
            SharedContext.objects.update_or_create(
                execution=execution, key=key, defaults={"value": value, "created_by": step.agent_id}
            )
        response = _respond(step, request, status="succeeded", cached=outcome.cached, summary=result.summary)
        _notify_dependents(step, response)
        ready = _release_dependents(step)
    logger.info(
        "Step %d (%s) succeeded%s", step.step_number, step.tool, " from the cache" if outcome.cached else "", extra=log
    )
    record_many(
        [
            ("step.duration_ms", step.duration_ms or 0, {"tool": step.tool, "cached": outcome.cached}),
            ("step.tokens", tokens, {"tool": step.tool}),
            *([("cache.hit", 1, {"tool": step.tool})] if outcome.cached else []),
        ]
    )
    _after_step(step, ready)


def _respond(step: ExecutionStep, request: AgentMessage, **payload: Any) -> AgentMessage:
    """The agent's RESPONSE to the orchestrator's REQUEST for this attempt."""
    return AgentMessage.objects.create(
        execution_id=step.execution_id,
        from_agent=step.agent_id,
        to_agent=ORCHESTRATOR,
        message_type=MessageType.RESPONSE,
        in_reply_to=request,
        payload={"step": step.step_number, **payload},
    )


def _notify_dependents(step: ExecutionStep, response: AgentMessage) -> None:
    if not step.dependents:
        return
    waiting = ExecutionStep.objects.filter(execution_id=step.execution_id, step_number__in=step.dependents)
    AgentMessage.objects.bulk_create(
        AgentMessage(
            execution_id=step.execution_id,
            from_agent=step.agent_id,
            to_agent=dependent.agent_id,
            message_type=MessageType.NOTIFICATION,
            in_reply_to=response,
            payload={
                "step": step.step_number,
                "ready_for_step": dependent.step_number,
                "summary": response.payload["summary"],
            },
        )
        for dependent in waiting.only("agent_id", "step_number")
    )


def _release_dependents(step: ExecutionStep) -> list[str]:
    """Count this step off its dependents; the ids of those now ready to run."""
    if not step.dependents:
        return []
    dependents = ExecutionStep.objects.filter(execution_id=step.execution_id, step_number__in=step.dependents)
    dependents.update(remaining_deps=F("remaining_deps") - 1)
    return [
        str(pk) for pk in dependents.filter(remaining_deps=0, status=StepStatus.PENDING).values_list("pk", flat=True)
    ]


def _after_step(step: ExecutionStep, ready: list[str]) -> None:
    checkpoint_run(step.execution_id, reason=f"step {step.step_number} ended")
    publish_step(step.pk)
    publish_execution(step.execution_id)
    if ready:
        enqueue_steps(ready)
    finish_if_done(step.execution_id)


def _retry_or_fail(step: ExecutionStep, worker: str, error: str, request: AgentMessage, log: dict[str, Any]) -> None:
    if step.attempts >= step.max_attempts:
        _fail(step, worker, f"{error} (gave up after {step.attempts} attempts)", request, log)
        return
    delay = settings.ORCHESTRATE_RETRY_BACKOFF * 2 ** (step.attempts - 1)
    with transaction.atomic():
        if not ExecutionStep.objects.filter(pk=step.pk, status=StepStatus.RUNNING, claimed_by=worker).update(
            status=StepStatus.PENDING,
            claimed_by="",
            lease_expires_at=None,
            error=error,
            retry_at=timezone.now() + timedelta(seconds=delay),
            waiting_for=f"retry {step.attempts + 1} of {step.max_attempts} in {delay:g}s",
        ):
            return
        _respond(step, request, status="retrying", error=error)
        enqueue_steps([step.pk], delay=delay)
    logger.warning("Step %d will retry in %gs: %s", step.step_number, delay, error, extra=log)
    publish_step(step.pk)


def _fail(
    step: ExecutionStep, worker: str, error: str, request: AgentMessage, log: dict[str, Any], *, skip: bool = False
) -> None:
    """End the step failed (or skipped, when a person refused an optional step); the run follows."""
    status = StepStatus.SKIPPED if skip else StepStatus.FAILED
    with transaction.atomic():
        if not _finish_step(step, worker, status=status, error=error):
            return
        _respond(step, request, status=status, error=error)
        if step.optional:
            skip_steps(step.execution_id, downstream_of(step), f"Not run: optional step {step.step_number} failed.")
        else:
            skip_steps(step.execution_id, None, f"Not run: step {step.step_number} failed.")
    logger.error("Step %d (%s) %s: %s", step.step_number, step.tool, status, error, extra=log)
    _after_step(step, [])


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
