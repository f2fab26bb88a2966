"""`insert_rows` stores what `bulk_create` would, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from math import inf

import pytest
from django.utils import timezone

from monitoring.models import Log, Metric, Trace
from orchestration.models import ExecutionStep, StepStatus
from persistence.sql import insert_rows
from tests.factories.orchestration import ExecutionFactory

pytestmark = pytest.mark.django_db


def test_it_stores_every_kind_of_value_and_fills_in_the_defaults():
    execution = ExecutionFactory.create()
    rows = [
        {
            "execution_id": execution.pk,
            "step_number": number,
            "agent_id": "analyst",
            "tool": "test.noop",
            "input": tool_input,
            "depends_on": [number - 1] if number > 1 else [],
            "dependents": [number + 1],
            "remaining_deps": 1 if number > 1 else 0,
            "optional": number == 2,
            "timeout_seconds": 30 if number == 3 else None,
            "max_attempts": 5,
        }
        for number, tool_input in enumerate(
            [{"query": "sales", "nested": {"ids": [1, 2]}}, "just text", 42, ["a", 1.5, True]], start=1
        )
    ]

    insert_rows(ExecutionStep, rows)

    stored = list(ExecutionStep.objects.filter(execution=execution).order_by("step_number"))
    assert [step.input for step in stored] == [row["input"] for row in rows]
    assert [(step.depends_on, step.dependents, step.remaining_deps) for step in stored] == [
        ([], [2], 0),
        ([1], [3], 1),
        ([2], [4], 1),
        ([3], [5], 1),
    ]
    assert [step.optional for step in stored] == [False, True, False, False]
    assert [step.timeout_seconds for step in stored] == [None, None, 30, None]
    # What the rows left out: the model's defaults, and a primary key of its own for each row.
    assert {(step.status, step.attempts, step.max_attempts, step.claimed_by, step.cached) for step in stored} == {
        (StepStatus.PENDING, 0, 5, "", False)
    }
    assert len({step.pk for step in stored}) == 4


def test_it_keeps_times_to_the_microsecond_and_links_to_other_rows():
    execution = ExecutionFactory.create()
    started = timezone.now().replace(microsecond=123456)
    parent, child = uuid.uuid4(), uuid.uuid4()
    spans = [
        {"id": parent, "name": "execution", "execution_id": execution.pk, "parent_span_id": None},
        {"id": child, "name": "step 1: test.noop", "execution_id": execution.pk, "parent_span_id": parent},
    ]

    insert_rows(
        Trace,
        [{**span, "started_at": started, "ended_at": started + timedelta(microseconds=7)} for span in spans],
    )

    stored = Trace.objects.get(pk=child)
    assert (stored.parent_span_id, stored.execution_id) == (parent, execution.pk)
    assert (stored.started_at, stored.ended_at) == (started, started + timedelta(microseconds=7))
    assert (stored.status, stored.metadata) == ("unset", {})


def test_it_numbers_rows_whose_key_the_database_makes():
    now = timezone.now()

    insert_rows(Metric, [{"metric_name": f"m{i}", "metric_value": i / 2, "timestamp": now} for i in range(3)])
    insert_rows(Log, [{"source": "tests", "level": "INFO", "message": "hello", "timestamp": now}])

    assert sorted(Metric.objects.values_list("metric_name", "metric_value", "tags")) == [
        ("m0", 0.0, {}),
        ("m1", 0.5, {}),
        ("m2", 1.0, {}),
    ]
    assert Log.objects.get().message == "hello"


def test_it_keeps_numbers_json_cannot_write():
    now = timezone.now()

    insert_rows(Metric, [{"metric_name": "odd", "metric_value": value, "timestamp": now} for value in (inf, -inf)])

    assert sorted(Metric.objects.values_list("metric_value", flat=True)) == [-inf, inf]


def test_it_writes_more_rows_than_one_statement_may_bind():
    # SQLite binds at most max_query_params values a statement: the rows go in several.
    now = timezone.now()

    insert_rows(Metric, [{"metric_name": "load", "metric_value": i, "timestamp": now} for i in range(40_000)])

    assert Metric.objects.count() == 40_000


def test_it_refuses_a_name_that_is_not_a_column():
    with pytest.raises(ValueError, match="is not a column"):
        insert_rows(ExecutionStep, [{"approval_requests": []}])
