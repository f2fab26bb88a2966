"""The dashboard's figures as charts and tiles, ready for the templates."""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.charts import Chart, horizontal_bars, short_number, stacked_columns
from monitoring.dashboard import Dashboard, ToolStats

STATUS_SERIES = (
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("running", "Running"),
    ("waiting_approval", "Waiting for approval"),
    ("planning", "Planning"),
    ("pending", "Pending"),
)


@dataclass
class Tile:
    tile_id: str
    label: str
    value: str
    note: str = ""


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def tiles(board: Dashboard) -> list[Tile]:
    in_flight = sum(board.in_flight.values())
    flight_note = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(board.in_flight.items()))
    return [
        Tile("runs", "Runs", short_number(sum(board.totals.values())), board.range.label.lower()),
        Tile(
            "success-rate",
            "Success rate",
            percent(board.success_rate),
            f"{board.totals.get('succeeded', 0)} of {board.finished_runs} finished",
        ),
        Tile("error-rate", "Error rate", percent(board.error_rate), f"{board.totals.get('failed', 0)} failed"),
        Tile("in-flight", "In flight now", str(in_flight), flight_note or "nothing running"),
        Tile("cache-hit-ratio", "Cache hit ratio", percent(board.cache_hit_ratio), "of succeeded steps"),
        Tile(
            "approvals-waiting",
            "Approvals waiting",
            str(board.approvals_waiting),
            f"oldest {duration(board.oldest_waiting_seconds)}" if board.approvals_waiting else "none waiting",
        ),
        Tile(
            "approval-wait",
            "Time to decision",
            duration(board.average_decision_seconds),
            f"average of {board.approvals_decided} decided",
        ),
        Tile("throttles", "Rate-limit throttles", str(board.throttle_count), board.range.label.lower()),
    ]


def _bucket_label(board: Dashboard, index: int) -> str:
    moment = board.buckets[index]
    if board.range.key == "1h":
        return moment.strftime("%H:%M")
    if board.range.key == "24h":
        return moment.strftime("%H:00")
    return moment.strftime("%b %d")


def charts(board: Dashboard) -> list[Chart]:
    labels = [_bucket_label(board, i) for i in range(len(board.buckets))]
    every = max(1, len(labels) // 8)
    present = [(css, name) for css, name in STATUS_SERIES if any(board.runs[b].get(css) for b in board.buckets)]
    runs = stacked_columns(
        "chart-runs",
        f"Runs by status, per {board.range.bucket_label}",
        _runs_description(board),
        labels,
        [(f"s-{css}", name, [board.runs[b].get(css, 0) for b in board.buckets]) for css, name in present],
        every=every,
    )
    finished = [sum(board.runs[b].get(s, 0) for s in ("succeeded", "failed", "cancelled")) for b in board.buckets]
    failed = [board.runs[b].get("failed", 0) for b in board.buckets]
    clean = [total - bad for total, bad in zip(finished, failed, strict=True)]
    errors = stacked_columns(
        "chart-errors",
        f"Finished and failed runs, per {board.range.bucket_label}",
        f"Error rate {percent(board.error_rate)}: {board.totals.get('failed', 0)} of {board.finished_runs} "
        "finished runs failed.",
        labels,
        [("s-failed", "Failed", failed), ("s-ok", "Finished without error", clean)],
        every=every,
    )
    slow = [t for t in board.tools if t.p50_ms is not None]
    durations = horizontal_bars(
        "chart-step-durations",
        "Step duration per tool (p50 and p95)",
        _durations_description(board),
        [(t.tool, [("s-p50", "p50", t.p50_ms or 0), ("s-p95", "p95", t.p95_ms or 0)]) for t in slow],
        unit=" ms",
        columns=["Tool", "p50", "p95"],
    )
    slowest = horizontal_bars(
        "chart-slowest-tools",
        "Slowest tools (longest step, ms)",
        "The tools whose longest step took the most time: "
        + (", ".join(f"{t.tool} {short_number(t.max_ms or 0)} ms" for t in _slowest(board)) or "no steps yet")
        + ".",
        [(t.tool, [("s-max", "longest", t.max_ms or 0)]) for t in _slowest(board)],
        unit=" ms",
        columns=["Tool", "Longest step"],
    )
    tokens = stacked_columns(
        "chart-tokens",
        f"Tokens used per {board.range.bucket_label}",
        f"{short_number(sum(board.tokens_by_bucket.values()))} tokens used by steps in the range.",
        labels,
        [("s-tokens", "Tokens", [board.tokens_by_bucket[b] for b in board.buckets])],
        value_label="tokens",
        every=every,
    )
    agents = horizontal_bars(
        "chart-tokens-agents",
        "Tokens per agent",
        "Tokens used by each agent: "
        + (", ".join(f"{a} {short_number(n)}" for a, n in board.tokens_by_agent.items()) or "none yet")
        + ".",
        [(agent, [("s-tokens", "tokens", n)]) for agent, n in board.tokens_by_agent.items()],
        columns=["Agent", "Tokens"],
    )
    throttles = stacked_columns(
        "chart-throttles",
        f"Rate-limit throttles per {board.range.bucket_label}",
        f"{board.throttle_count} steps waited for a rate-limit window in the range.",
        labels,
        [("s-throttled", "Throttles", [board.throttles[b] for b in board.buckets])],
        value_label="throttles",
        every=every,
    )
    return [runs, errors, durations, slowest, tokens, agents, throttles]


def _slowest(board: Dashboard) -> list[ToolStats]:
    timed = [t for t in board.tools if t.max_ms is not None]
    return sorted(timed, key=lambda t: (-(t.max_ms or 0), t.tool))[:5]


def _runs_description(board: Dashboard) -> str:
    if not board.totals:
        return f"No runs in the {board.range.label.lower()}."
    parts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(board.totals.items()))
    return f"{sum(board.totals.values())} runs in the {board.range.label.lower()}: {parts}."


def _durations_description(board: Dashboard) -> str:
    timed = [t for t in board.tools if t.p50_ms is not None]
    if not timed:
        return "No timed steps in the range."
    return (
        "Median and 95th percentile step duration: "
        + "; ".join(
            f"{t.tool} p50 {short_number(t.p50_ms or 0)} ms, p95 {short_number(t.p95_ms or 0)} ms" for t in timed
        )
        + "."
    )
