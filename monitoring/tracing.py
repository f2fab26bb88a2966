"""Spans: named, timed pieces of work stored as rows of the `traces` table.

A span writes its row when it starts (status "unset"), so a crashed worker
leaves a visible open span instead of nothing, and updates that row once
when it ends. The end is a conditional update (`ended_at IS NULL`), so two
workers racing to end the same span cannot both win and nothing is read
back and rewritten.

    with span("step 3", execution_id=run.id, parent=root_span_of(run.id)) as s:
        s.metadata["tokens"] = 120       # merged into the row when the span ends
        call_the_tool()

An execution's root span starts at planning and ends at finalisation, maybe
in another process: `start_span(...)` there, `Span.load(id).end(...)` here.
Its id is derived from the execution's (`root_span_id`), so a step finds
its parent without a query.

Spans on the engine's hot path (one per step) use `buffered_span` instead:
nothing is written while the step runs; the finished span joins the
process's batch (monitoring/batching.py) and is stored with others in one
insert by `write_finished_spans`, the one function every batch of finished
spans goes through. A worker killed mid-step leaves no row for that step's
span (its step row and logs say what happened).

Metadata goes through `clean_metadata`: secrets are redacted and values are
made JSON-safe, because span metadata is shown on dashboards.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from django.utils import timezone

from monitoring import hooks
from monitoring.batching import Batch
from monitoring.models import SpanStatus, Trace
from persistence.sql import insert_rows

REDACTED = "[redacted]"
ERROR_MESSAGE_LIMIT = 2000

# Matched against a key normalised to snake_case. Whole words, so that
# "max_tokens" or "author" stay visible while "access_token", "X-Api-Key",
# "client_secret" and "Set-Cookie" do not.
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|passphrase|pwd|secrets?|authorization|auth|cookies?|credentials?|"
    r"session_?id|private_?key|api_?key|access_?key|secret_?key|signing_?key|dsn)(_|$)"
    r"|token$"
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names something that must not be stored (a password, a token...)."""
    normalised = _NON_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", str(key)).lower())
    return bool(_SECRET_KEY.search(normalised))


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `data` with the values of secret-looking keys replaced, at any depth."""
    return {key: REDACTED if is_secret_key(key) else _redact_value(value) for key, value in data.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    return value


class _LenientEncoder(DjangoJSONEncoder):
    """Dates, UUIDs and decimals as Django writes them; anything else as its repr, never a TypeError."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return repr(o)


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types, so a JSONField write never fails on a stray object."""
    return json.loads(json.dumps(value, cls=_LenientEncoder))


def clean_metadata(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Redacted and JSON-safe: what every monitoring row stores as metadata or tags."""
    return jsonable(redact(data or {}))


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


@dataclass
class Span:
    """A span in this process. `metadata` may be added to until `end()`, which stores it."""

    id: uuid.UUID
    name: str
    execution_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    started_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    status: str = SpanStatus.UNSET
    ended_at: datetime | None = None
    duration_ms: int | None = None
    # Set only where the span started: a monotonic clock is immune to wall-clock jumps.
    _started_monotonic: float | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_trace(cls, trace: Trace) -> Span:
        return cls(
            id=trace.id,
            name=trace.name,
            execution_id=trace.execution_id,
            parent_id=trace.parent_span_id,
            started_at=trace.started_at,
            metadata=dict(trace.metadata or {}),
            status=trace.status,
            ended_at=trace.ended_at,
            duration_ms=trace.duration_ms,
        )

    @classmethod
    def load(cls, span_id: uuid.UUID | str) -> Span:
        """The span of a stored row, to end it in a process other than the one that started it."""
        return cls.from_trace(Trace.objects.get(pk=_as_uuid(span_id)))

    @classmethod
    def begin(
        cls,
        name: str,
        *,
        execution_id: uuid.UUID | str | None = None,
        parent_id: uuid.UUID | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Span:
        """A span that has no row until `end_in_batch()` writes it with the process's next batch."""
        return cls(
            id=uuid.uuid4(),
            name=name[:200],
            execution_id=_as_uuid(execution_id) if execution_id is not None else None,
            parent_id=parent_id,
            started_at=timezone.now(),
            metadata=dict(metadata or {}),
            _started_monotonic=time.monotonic(),
        )

    def end_in_batch(self, status: str = SpanStatus.OK, metadata: Mapping[str, Any] | None = None) -> None:
        """End a span from `begin()`: it is written in the next batch of finished spans."""
        elapsed = time.monotonic() - (self._started_monotonic or time.monotonic())
        self.duration_ms = max(0, round(elapsed * 1000))
        self.ended_at = timezone.now()
        self.status = status
        self.metadata = clean_metadata({**self.metadata, **(metadata or {})})
        finished_spans.add(self)

    def end(self, status: str = SpanStatus.OK, metadata: Mapping[str, Any] | None = None) -> bool:
        """Store the end, duration, status and merged metadata; False if the span had already ended."""
        if status not in (SpanStatus.OK, SpanStatus.ERROR):
            raise ValueError(f"a span ends with status 'ok' or 'error', not {status!r}")
        ended_at = timezone.now()
        if self._started_monotonic is not None:
            elapsed = time.monotonic() - self._started_monotonic
        else:
            elapsed = (ended_at - self.started_at).total_seconds()
        duration_ms = max(0, round(elapsed * 1000))
        merged = clean_metadata({**self.metadata, **(metadata or {})})
        ended = Trace.objects.filter(pk=self.id, ended_at__isnull=True).update(
            ended_at=ended_at, duration_ms=duration_ms, status=status, metadata=merged
        )
        if ended:
            self.ended_at, self.duration_ms, self.status, self.metadata = ended_at, duration_ms, status, merged
            hooks.spans_finished([self])
        return bool(ended)


_ROOT_NAMESPACE = uuid.UUID("5b0c4a54-3f1e-4a51-9d38-6f0f2f5ad1a7")


def root_span_id(execution_id: uuid.UUID | str) -> uuid.UUID:
    """The id of an execution's root span, known without reading it."""
    return uuid.uuid5(_ROOT_NAMESPACE, str(_as_uuid(execution_id)))


def start_span(
    name: str,
    *,
    execution_id: uuid.UUID | str | None = None,
    parent: Span | Trace | uuid.UUID | str | None = None,
    metadata: Mapping[str, Any] | None = None,
    span_id: uuid.UUID | None = None,
) -> Span:
    """Write an open span's row and return it; the caller must `end()` it, here or elsewhere.

    `parent` is a Span, a Trace row (as `root_span_of` returns) or a span id.
    A Span or Trace parent lends its execution when none is given; a bare id
    does not (that would cost a query), so pass `execution_id` with it.
    """
    parent_id: uuid.UUID | None = None
    if isinstance(parent, Span | Trace):
        parent_id = parent.id
        if execution_id is None:
            execution_id = parent.execution_id
    elif parent is not None:
        parent_id = _as_uuid(parent)
    started = Span(
        id=span_id or uuid.uuid4(),
        name=name[:200],
        execution_id=_as_uuid(execution_id) if execution_id is not None else None,
        parent_id=parent_id,
        started_at=timezone.now(),
        metadata=clean_metadata(metadata),
        _started_monotonic=time.monotonic(),
    )
    Trace.objects.create(
        id=started.id,
        name=started.name,
        execution_id=started.execution_id,
        parent_span_id=started.parent_id,
        started_at=started.started_at,
        status=SpanStatus.UNSET,
        metadata=started.metadata,
    )
    return started


@contextmanager
def span(
    name: str,
    *,
    execution_id: uuid.UUID | str | None = None,
    parent: Span | Trace | uuid.UUID | str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span around a block: ok if the block returns, error (type and message kept) if it raises.

    The exception is always re-raised; tracing records failures, it never hides them.
    """
    current = start_span(name, execution_id=execution_id, parent=parent, metadata=metadata)
    try:
        yield current
    except BaseException as exc:
        error = {"type": type(exc).__name__, "message": str(exc)[:ERROR_MESSAGE_LIMIT]}
        current.end(status=SpanStatus.ERROR, metadata={"error": error})
        raise
    current.end(status=SpanStatus.OK)


def root_span_of(execution_id: uuid.UUID | str) -> Trace | None:
    """The execution's root span (the first one without a parent), for step spans to hang under."""
    return (
        Trace.objects.filter(execution_id=_as_uuid(execution_id), parent_span__isnull=True)
        .order_by("started_at")
        .first()
    )


def write_finished_spans(spans: list[Span]) -> None:
    """Store a batch of finished spans in one insert: the one way buffered spans reach the database.

    A span whose parent or execution row is gone (deleted meanwhile, or never
    written) would fail the whole insert; then the links are checked and
    such a span is kept without them, its ids in metadata.
    """
    if not spans:
        return
    try:
        insert_rows(Trace, _trace_rows(spans, known=None))
    except IntegrityError:
        from orchestration.models import Execution

        parents = {s.parent_id for s in spans if s.parent_id} - {s.id for s in spans}
        runs = {s.execution_id for s in spans if s.execution_id}
        known = set(Trace.objects.filter(pk__in=parents).values_list("pk", flat=True)) | {s.id for s in spans}
        known |= set(Execution.objects.filter(pk__in=runs).values_list("pk", flat=True))
        insert_rows(Trace, _trace_rows(spans, known=known))
    hooks.spans_finished(spans)


def _trace_rows(spans: list[Span], known: set[uuid.UUID] | None) -> list[dict[str, Any]]:
    rows = []
    for finished in spans:
        metadata, parent_id, execution_id = finished.metadata, finished.parent_id, finished.execution_id
        if known is not None and parent_id is not None and parent_id not in known:
            metadata, parent_id = {**metadata, "parent_span_id": str(parent_id)}, None
        if known is not None and execution_id is not None and execution_id not in known:
            metadata, execution_id = {**metadata, "execution_id": str(execution_id)}, None
        rows.append(
            {
                "id": finished.id,
                "name": finished.name,
                "execution_id": execution_id,
                "parent_span_id": parent_id,
                "started_at": finished.started_at,
                "ended_at": finished.ended_at,
                "duration_ms": finished.duration_ms,
                "status": finished.status,
                "metadata": metadata,
            }
        )
    return rows


finished_spans: Batch[Span] = Batch("finished spans", write_finished_spans)


@contextmanager
def buffered_span(
    name: str,
    *,
    execution_id: uuid.UUID | str | None = None,
    parent_id: uuid.UUID | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span around a block, written in the next batch once it ended (ok, or error and re-raised)."""
    current = Span.begin(name, execution_id=execution_id, parent_id=parent_id, metadata=metadata)
    status, extra = SpanStatus.OK, {}
    try:
        yield current
    except BaseException as exc:
        status = SpanStatus.ERROR
        extra = {"error": {"type": type(exc).__name__, "message": str(exc)[:ERROR_MESSAGE_LIMIT]}}
        raise
    finally:
        current.end_in_batch(status, extra)
