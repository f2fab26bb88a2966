"""Retention: exactly what is older than the window goes, in batches; --dry-run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitoring.models import Log, Metric, Trace
from monitoring.retention import prune
from tests.factories.orchestration import ExecutionFactory
from webhooks.models import Webhook, WebhookExecution

DAYS = 7


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def rows(workspace_a, alice, now):
    """One row of each kind an hour either side of the window's edge, and one exactly on it."""
    execution = ExecutionFactory(workspace=workspace_a)
    webhook = Webhook.objects.create(user=alice, workspace=workspace_a, name="daily", trigger_type="cron")
    edge = now - timedelta(days=DAYS)
    made = {}
    for label, offset in (("old", -1), ("edge", 0), ("new", 1)):
        moment = edge + timedelta(hours=offset)
        made[label] = [
            Log.objects.create(execution=execution, source="t", level="INFO", message=label, timestamp=moment),
            Metric.objects.create(metric_name=label, metric_value=1, timestamp=moment),
            Trace.objects.create(execution=execution, name=label, started_at=moment),
            WebhookExecution.objects.create(webhook=webhook, triggered_at=moment),
        ]
    return made


def _left() -> dict[str, set[str]]:
    return {
        "logs": set(Log.objects.values_list("message", flat=True)),
        "metrics": set(Metric.objects.values_list("metric_name", flat=True)),
        "traces": set(Trace.objects.values_list("name", flat=True)),
        "webhook_executions": {str(pk) for pk in WebhookExecution.objects.values_list("pk", flat=True)},
    }


def test_it_prunes_exactly_what_is_older_than_the_window(rows, now):
    counts = prune(DAYS, now=now, batch_size=1)

    assert counts == {"logs": 1, "metrics": 1, "traces": 1, "webhook_executions": 1, "metric_rollups": 0}
    left = _left()
    assert left["logs"] == left["metrics"] == left["traces"] == {"edge", "new"}
    assert left["webhook_executions"] == {str(rows["edge"][3].pk), str(rows["new"][3].pk)}


def test_it_counts_but_changes_nothing_on_a_dry_run(rows, now):
    before = _left()

    expected = {"logs": 1, "metrics": 1, "traces": 1, "webhook_executions": 1, "metric_rollups": 0}
    assert prune(DAYS, now=now, dry_run=True) == expected
    assert _left() == before


def test_it_deletes_an_old_span_with_its_children(workspace_a, now):
    execution = ExecutionFactory(workspace=workspace_a)
    root = Trace.objects.create(execution=execution, name="execution", started_at=now - timedelta(days=DAYS + 1))
    Trace.objects.create(
        execution=execution, name="step 1", parent_span=root, started_at=now - timedelta(days=DAYS - 1)
    )

    assert prune(DAYS, now=now)["traces"] == 2  # the count says what went, the child included
    assert not Trace.objects.exists()


def test_it_keeps_everything_with_a_zero_window(rows, now):
    assert prune(0, now=now) == {"logs": 0, "metrics": 0, "traces": 0, "webhook_executions": 0, "metric_rollups": 0}
    assert Log.objects.count() == 3


def test_the_command_prunes_and_dry_runs(rows, settings):
    settings.ORCHESTRATE_RETENTION_DAYS = DAYS
    out = StringIO()

    call_command("prune", "--dry-run", stdout=out)
    assert "Would delete" in out.getvalue()
    assert "logs: " in out.getvalue()
    assert Log.objects.count() == 3

    call_command("prune", "--batch-size", "2", stdout=out)
    # The edge row may have crossed the edge since the fixture made it; the others cannot have.
    assert "new" in _left()["logs"]
    assert "old" not in _left()["traces"]

    with pytest.raises(CommandError, match="--days cannot be negative"):
        call_command("prune", "--days", "-1")
