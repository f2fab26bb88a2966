"""A run's spans as a Gantt chart: one bar per span (and per approval waited for), drawn as SVG.

Rows are the span tree in depth-first order (children by start time), with
approval waits hung under the run's root span. Bars share one time axis from
the first span's start to the last end (or now, while something is open), so
the longest bar is where the run spent its time; the step that took longest
is marked as the bottleneck.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from monitoring.charts import short_number
from monitoring.models import Trace
from safety.models import PendingApproval

MAX_SPANS = 500
WIDTH = 960
LABEL_WIDTH = 260
RIGHT = 70
ROW_HEIGHT = 24
TOP = 24


@dataclass
class Bar:
    bar_id: str
    label: str
    kind: str  # execution, plan, step, approval, other
    status: str
    depth: int
    start_ms: float
    duration_ms: float
    metadata: str
    open: bool
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    label_x: float = 0.0
    bottleneck: bool = False

    @property
    def title(self) -> str:
        state = "still open" if self.open else self.status
        return (
            f"{self.label}: {short_number(self.duration_ms)} ms, {state}, starts at +{short_number(self.start_ms)} ms"
        )


@dataclass
class Waterfall:
    bars: list[Bar] = field(default_factory=list)
    total_ms: float = 0.0
    width: int = WIDTH
    height: int = TOP
    ticks: list[tuple[float, str]] = field(default_factory=list)
    bottleneck: Bar | None = None
    truncated: bool = False
    open: bool = False
    label_width: int = LABEL_WIDTH

    @property
    def description(self) -> str:
        if not self.bars:
            return "No spans recorded yet."
        text = f"{len(self.bars)} spans over {short_number(self.total_ms)} ms."
        if self.bottleneck is not None:
            share = self.bottleneck.duration_ms / self.total_ms * 100 if self.total_ms else 0
            longest = short_number(self.bottleneck.duration_ms)
            text += f" Longest step: {self.bottleneck.label}, {longest} ms ({share:.0f}% of the run)."
        return text


def _kind(name: str) -> str:
    if name.startswith("step "):
        return "step"
    if name.startswith("execution"):
        return "execution"
    if name == "plan":
        return "plan"
    return "other"


def build(execution_id: uuid.UUID, now: datetime | None = None) -> Waterfall:
    """The waterfall of one run (the caller has checked the user may see it): two queries."""
    now = now or timezone.now()
    spans = list(Trace.objects.filter(execution_id=execution_id).order_by("started_at", "pk")[: MAX_SPANS + 1])
    chart = Waterfall(truncated=len(spans) > MAX_SPANS)
    spans = spans[:MAX_SPANS]
    approvals = list(PendingApproval.objects.filter(execution_id=execution_id).order_by("created_at"))
    if not spans and not approvals:
        return chart
    starts = [s.started_at for s in spans] + [a.created_at for a in approvals]
    ends = [s.ended_at or now for s in spans] + [a.resolved_at or now for a in approvals]
    origin, finish = min(starts), max(ends)
    chart.total_ms = max((finish - origin).total_seconds() * 1000, 1.0)
    chart.open = any(s.ended_at is None for s in spans) or any(a.resolved_at is None for a in approvals)

    known = {s.id for s in spans}
    children: dict[uuid.UUID | None, list[Trace]] = defaultdict(list)
    for s in spans:
        children[s.parent_span_id if s.parent_span_id in known else None].append(s)
    root = next((s for s in children[None] if s.name == "execution"), None)
    attempts: Counter[str] = Counter()

    def offset(moment: datetime) -> float:
        return (moment - origin).total_seconds() * 1000

    def add_span(node: Trace, depth: int) -> None:
        attempts[node.name] += 1
        label = node.name if attempts[node.name] == 1 else f"{node.name} (attempt {attempts[node.name]})"
        end = node.ended_at or now
        chart.bars.append(
            Bar(
                bar_id=f"span-{node.pk}",
                label=label,
                kind=_kind(node.name),
                status=node.status if node.ended_at else "running",
                depth=depth,
                start_ms=offset(node.started_at),
                duration_ms=node.duration_ms if node.duration_ms is not None else offset(end) - offset(node.started_at),
                metadata=json.dumps(node.metadata, indent=1, sort_keys=True) if node.metadata else "",
                open=node.ended_at is None,
            )
        )
        kids: list[Trace | PendingApproval] = list(children.get(node.pk, []))
        if node is root:
            kids.extend(approvals)
        kids.sort(key=lambda k: k.started_at if isinstance(k, Trace) else k.created_at)
        for kid in kids:
            if isinstance(kid, Trace):
                add_span(kid, depth + 1)
            else:
                add_approval(kid, depth + 1)

    def add_approval(approval: PendingApproval, depth: int) -> None:
        end = approval.resolved_at or now
        chart.bars.append(
            Bar(
                bar_id=f"approval-{approval.pk}",
                label=f"approval: {approval.action_type}",
                kind="approval",
                status=approval.status,
                depth=depth,
                start_ms=offset(approval.created_at),
                duration_ms=offset(end) - offset(approval.created_at),
                metadata=json.dumps({"reason": approval.reason, "status": approval.status}, indent=1),
                open=approval.resolved_at is None,
            )
        )

    for top in children[None]:
        add_span(top, 0)
    if root is None:
        for approval in approvals:
            add_approval(approval, 0)
    _layout(chart)
    return chart


def _layout(chart: Waterfall) -> None:
    track = WIDTH - LABEL_WIDTH - RIGHT
    for index, bar in enumerate(chart.bars):
        bar.x = round(LABEL_WIDTH + track * bar.start_ms / chart.total_ms, 1)
        bar.width = round(max(track * bar.duration_ms / chart.total_ms, 2.0), 1)
        bar.y = TOP + index * ROW_HEIGHT + 4
        bar.label_x = 8 + min(bar.depth, 6) * 12
    steps = [bar for bar in chart.bars if bar.kind == "step"]
    if steps:
        chart.bottleneck = max(steps, key=lambda bar: bar.duration_ms)
        chart.bottleneck.bottleneck = True
    chart.height = TOP + len(chart.bars) * ROW_HEIGHT + 8
    chart.ticks = [
        (round(LABEL_WIDTH + track * f, 1), f"{short_number(chart.total_ms * f)} ms") for f in (0, 0.25, 0.5, 0.75, 1)
    ]
