"""Hourly rollups of the dashboard's figures: closed hours from `metric_rollups`, the rest from the rows.

A closed hour (ended more than GRACE ago, so late log lines have landed) is
rolled up once for every workspace: `figures.collect` over the hour, one
`MetricRollup` row per workspace that had something, and a `RolledHour`
row saying the hour is done. Runs of the hour that had not settled (not
finished, or a step still running) are left out of the figures and listed
in the row's `pending`: the dashboard reads them from their rows, whatever
they have become since.

The figures stay what the rows say:

- a run that finishes after its hour was rolled up (for the first time, or
  again after a resume) marks the hour's row stale (`run_finished`
  receiver, in the transaction that ends the run); a stale hour is read from
  the rows until it is rolled up again;
- a run that was rolled up and is running again (resumed) is noticed by the
  dashboard (one indexed query for unfinished runs of the range) and its hour
  is read from the rows;
- rolling an hour takes a lock on its `RolledHour` row, and afterwards marks
  stale the rows of runs changed while it was reading.

Rolling is idempotent: `roll_due` rolls missing and stale hours, newest
first, a few at a time; it runs from the telemetry flusher thread of every
process (monitoring/batching.py) and from the prune task, and
`manage.py rollup` rolls (or rebuilds) a whole window at once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models.functions import Trunc
from django.utils import timezone

from monitoring.figures import THROTTLE_SOURCE, Collected, Figures, collect, hour_start, next_hour, read_rows
from monitoring.models import Log, MetricRollup, RolledHour
from orchestration.models import FINISHED_STATUSES, Execution, ExecutionStatus
from orchestration.signals import FinishedRun

logger = logging.getLogger(__name__)

# An hour is rolled up this long after it ends: log lines are written in batches, a little late.
GRACE = timedelta(minutes=5)
# Runs changed this close to the start of a roll-up are checked against what it read (clocks of other hosts).
CLOCK_MARGIN = timedelta(minutes=1)
# Rollups older than the longest dashboard range (30 days) and a day are of no use.
HORIZON = timedelta(days=31)
ONE_HOUR = timedelta(hours=1)
UNFINISHED = [status for status in ExecutionStatus.values if status not in FINISHED_STATUSES]


def last_closed_hour(now: datetime | None = None) -> datetime:
    """The start of the newest hour that may be rolled up."""
    return hour_start((now or timezone.now()) - GRACE) - ONE_HOUR


def roll_hour(hour: datetime, workspace_ids: Iterable[uuid.UUID] | None = None) -> int:
    """Roll up one hour (for these workspaces, or all of them); the rows written."""
    hour = hour_start(hour)
    ids = None if workspace_ids is None else list(workspace_ids)
    with transaction.atomic():
        # One roller per hour at a time: the lock is held until the rows are written.
        RolledHour.objects.bulk_create([RolledHour(hour=hour, rolled_at=timezone.now())], ignore_conflicts=True)
        RolledHour.objects.select_for_update().get(hour=hour)
        started = timezone.now()
        collected = collect(ids, hour, hour + ONE_HOUR, settle=True)
        old = MetricRollup.objects.filter(hour=hour)
        if ids is not None:
            old = old.filter(workspace_id__in=ids)
        old.delete()
        rows = [
            _row(workspace_id, hour, collected, started)
            for workspace_id, _ in collected.cells.keys() | collected.pending.keys()
        ]
        MetricRollup.objects.bulk_create(rows)
        RolledHour.objects.filter(hour=hour).update(rolled_at=started)
    # A run that changed while the hour was read may be in the figures as it was: read its hour from the rows.
    changed = Execution.objects.filter(
        created_at__gte=hour, created_at__lt=hour + ONE_HOUR, updated_at__gte=started - CLOCK_MARGIN
    )
    if ids is not None:
        changed = changed.filter(workspace_id__in=ids)
    pending = {pk for row in rows for pk in row.pending}
    spoiled = {
        workspace_id
        for pk, workspace_id, updated_at in changed.values_list("pk", "workspace_id", "updated_at")
        if pk.hex not in pending and collected.seen.get(pk) != updated_at
    }
    if spoiled:
        MetricRollup.objects.filter(hour=hour, workspace_id__in=spoiled).update(stale=True)
    return len(rows)


def _row(workspace_id: uuid.UUID, hour: datetime, collected: Collected, started: datetime) -> MetricRollup:
    key = (workspace_id, int(hour.timestamp()))
    figures = collected.cells.get(key, Figures())
    throttles = sum(figures.throttles.values())
    figures.throttles.clear()
    return MetricRollup(
        workspace_id=workspace_id,
        hour=hour,
        figures=json.dumps(figures.to_json(), separators=(",", ":")),
        throttles=throttles,
        pending=collected.pending.get(key, []),
        rolled_at=started,
    )


def roll_due(now: datetime | None = None, limit: int = 24) -> int:
    """Roll up stale hours and closed hours not rolled up yet (newest first, at most `limit`); the hours rolled."""
    now = now or timezone.now()
    newest = last_closed_hour(now)
    oldest = hour_start(now - HORIZON)
    stale: dict[datetime, set[uuid.UUID]] = {}
    for hour, workspace_id in MetricRollup.objects.filter(stale=True, hour__gte=oldest).values_list(
        "hour", "workspace_id"
    )[: limit * 10]:
        stale.setdefault(hour, set()).add(workspace_id)
    done = 0
    for hour, workspace_ids in sorted(stale.items(), reverse=True)[:limit]:
        roll_hour(hour, workspace_ids)
        done += 1
    rolled = set(RolledHour.objects.filter(hour__gte=oldest, hour__lte=newest).values_list("hour", flat=True))
    hour = newest
    while hour >= oldest and done < limit:
        if hour not in rolled:
            roll_hour(hour)
            done += 1
        hour -= ONE_HOUR
    return done


def roll_window(start: datetime, end: datetime, *, rebuild: bool = False) -> int:
    """Roll up every closed hour from `start` to `end` not rolled up yet (every one with `rebuild`).

    Hours in which nothing happened are only marked rolled up (one insert for all of them).
    """
    first, newest = hour_start(start), min(hour_start(end), last_closed_hour())
    rolled = set(RolledHour.objects.filter(hour__gte=first).values_list("hour", flat=True))
    stale = set(MetricRollup.objects.filter(stale=True, hour__gte=first).values_list("hour", flat=True))
    busy = _busy_hours(first, newest + ONE_HOUR)
    empty: list[RolledHour] = []
    done = 0
    hour = first
    while hour <= newest:
        if rebuild or hour not in rolled or hour in stale:
            if hour in busy or hour in stale or rebuild:
                roll_hour(hour)
            else:
                empty.append(RolledHour(hour=hour, rolled_at=timezone.now()))
            done += 1
        hour += ONE_HOUR
    RolledHour.objects.bulk_create(empty, ignore_conflicts=True)
    return done


def _busy_hours(start: datetime, end: datetime) -> set[datetime]:
    """Hours in which a run was created or a throttle logged (the others need no rollup row)."""
    runs = Execution.objects.filter(created_at__gte=start, created_at__lt=end)
    logs = Log.objects.filter(timestamp__gte=start, timestamp__lt=end, source=THROTTLE_SOURCE)
    hours = runs.annotate(at=Trunc("created_at", "hour", tzinfo=UTC)).order_by().values_list("at", flat=True)
    logged = logs.annotate(at=Trunc("timestamp", "hour", tzinfo=UTC)).order_by().values_list("at", flat=True)
    return {hour_start(at) for at in hours.distinct()} | {hour_start(at) for at in logged.distinct()}


def mark_stale(sender: Any, run: FinishedRun, **kwargs: Any) -> None:
    """Receiver of `run_finished`: the run's hour, if rolled up, no longer says what the rows say."""
    MetricRollup.objects.filter(workspace_id=run.workspace_id, hour=hour_start(run.created_at)).update(stale=True)


def figures_for_range(workspace_ids: list[uuid.UUID], since: datetime, grain: str) -> Figures:
    """The figures of runs created since `since` (and throttles logged since), in these workspaces.

    Whole hours come from rollups (when the chart's buckets are whole hours
    or days), the rest from the rows: the range's first partial hour, the
    hours not rolled up yet, stale hours, and runs that had not settled.
    """
    total = Figures()
    first = next_hour(since)
    rolled: set[datetime] = set()
    if grain == "hour":
        rolled = set(RolledHour.objects.filter(hour__gte=first).values_list("hour", flat=True))
    good: set[datetime] = set()
    pending: list[str] = []
    if rolled:
        good = _usable_hours(total, pending, workspace_ids, rolled)
    windows: list[tuple[datetime, datetime | None]] = []
    cursor: datetime = since
    for hour in sorted(good):
        if cursor < hour:
            windows.append((cursor, hour))
        cursor = hour + ONE_HOUR
    windows.append((cursor, None))
    # One read for all of it (the same few queries however many windows and pending runs).
    read_rows(total, workspace_ids, windows, pending, grain=grain)
    return total


def _usable_hours(total: Figures, pending: list[str], ids: list[uuid.UUID], rolled: set[datetime]) -> set[datetime]:
    """Add the rollups of the rolled-up hours that still say what the rows say; those hours."""
    rows = list(
        MetricRollup.objects.filter(workspace_id__in=ids, hour__gte=min(rolled), hour__lte=max(rolled)).values_list(
            "hour", "workspace_id", "figures", "throttles", "pending", "stale"
        )
    )
    bad = {hour for hour, _, _, _, _, stale in rows if stale}
    left_out = {(workspace_id, hour): set(ids_) for hour, workspace_id, _, _, ids_, stale in rows if not stale}
    # A rolled-up run that is unfinished again was resumed: its hour's rollup counts it as it was.
    running = Execution.objects.filter(
        workspace_id__in=ids,
        status__in=UNFINISHED,
        created_at__gte=min(rolled),
        created_at__lt=max(rolled) + ONE_HOUR,
    )
    for pk, workspace_id, created_at in running.order_by().values_list("pk", "workspace_id", "created_at"):
        hour = hour_start(created_at)
        if hour in rolled and pk.hex not in left_out.get((workspace_id, hour), ()):
            bad.add(hour)
    good = rolled - bad
    for hour, _, figures, throttles, ids_, _ in rows:
        if hour in good:
            total.add_json(json.loads(figures))
            if throttles:
                total.throttles[int(hour.timestamp())] += throttles
            pending.extend(ids_)
    return good


def logs_pruned(cutoff: datetime) -> None:
    """Retention pruned the log lines before `cutoff`: the throttles of those hours go with them."""
    start = hour_start(cutoff)
    MetricRollup.objects.filter(hour__lt=start, throttles__gt=0).update(throttles=0)
    if start < cutoff:
        # Some of this hour's lines are gone: read it from the rows until it is rolled up again.
        MetricRollup.objects.filter(hour=start, throttles__gt=0).update(stale=True)


def forget_before(cutoff: datetime, *, dry_run: bool = False) -> int:
    """Retention: delete the rollups of hours that ended before `cutoff` (count them with `dry_run`)."""
    old = MetricRollup.objects.filter(hour__lt=hour_start(cutoff))
    if dry_run:
        return old.count()
    deleted, _ = old.delete()
    RolledHour.objects.filter(hour__lt=hour_start(cutoff)).delete()
    return deleted
