"""Monitoring services: spans, metrics and the buffered database log handler.

Log assertions look only at rows from the test's own logger (`source`): the
handler configured in settings may write run logs of other tests.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring import metrics
from monitoring.log_handler import DatabaseLogHandler, discard_database_logs, flush_database_logs
from monitoring.models import Log, Metric, SpanStatus, Trace
from monitoring.tracing import REDACTED, Span, redact, root_span_of, span, start_span
from tests.factories.orchestration import ExecutionFactory


@pytest.fixture
def execution(db):
    return ExecutionFactory.create()


@pytest.fixture
def db_logger():
    """A private logger with its own handler: the configured one must not see these records.

    The flush interval is long so that, unless a test says otherwise, rows are
    written only by an explicit flush, in the test's thread and transaction.
    """
    handler = DatabaseLogHandler(flush_interval=60)
    logger = logging.getLogger(f"tests.monitoring.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)
    handler.close()


# Spans


def test_it_nests_a_step_span_under_the_execution_root_span(execution):
    root = start_span("execution", execution_id=execution.id)
    with span("step 1", parent=root_span_of(execution.id)) as step, span("tool drive.read", parent=step):
        pass
    root.end()

    assert root_span_of(execution.id).id == root.id
    step_row = Trace.objects.get(pk=step.id)
    assert step_row.parent_span_id == root.id
    assert step_row.execution_id == execution.id
    assert Trace.objects.get(name="tool drive.read").parent_span_id == step.id
    assert Trace.objects.filter(execution=execution).count() == 3


def test_it_writes_the_row_at_start_and_records_timing_at_end(execution):
    with span("step 1", execution_id=str(execution.id), metadata={"tool": "drive.read"}) as current:
        open_row = Trace.objects.get(pk=current.id)
        current.metadata["tokens"] = 12
        time.sleep(0.02)

    assert open_row.status == SpanStatus.UNSET
    assert open_row.ended_at is None
    row = Trace.objects.get(pk=current.id)
    assert row.status == SpanStatus.OK
    assert row.ended_at >= row.started_at
    assert row.duration_ms >= 20
    assert row.metadata == {"tool": "drive.read", "tokens": 12}


def test_it_marks_the_span_as_error_with_the_exception_and_reraises(execution):
    with pytest.raises(TimeoutError, match="tool took too long"), span("step 2", execution_id=execution.id):
        raise TimeoutError("tool took too long")

    row = Trace.objects.get(name="step 2")
    assert row.status == SpanStatus.ERROR
    assert row.metadata["error"] == {"type": "TimeoutError", "message": "tool took too long"}
    assert row.duration_ms is not None


def test_it_ends_a_span_started_elsewhere_once(execution):
    started = start_span("execution", execution_id=execution.id, metadata={"planner": "rules"})

    elsewhere = Span.load(str(started.id))
    assert elsewhere.end(status=SpanStatus.ERROR, metadata={"reason": "cancelled"}) is True
    assert started.end() is False

    row = Trace.objects.get(pk=started.id)
    assert row.status == SpanStatus.ERROR
    assert row.metadata == {"planner": "rules", "reason": "cancelled"}
    assert row.duration_ms is not None


def test_it_redacts_secrets_recursively():
    cleaned = redact(
        {
            "password": "hunter2",
            "max_tokens": 256,
            "author": "alice",
            "request": {"headers": {"Authorization": "Bearer x", "X-Api-Key": "k"}, "url": "https://x"},
            "calls": [{"access_token": "t", "tool": "drive"}, "plain"],
            "clientSecret": "s",
            "Set-Cookie": "sessionid=1",
        }
    )

    assert cleaned == {
        "password": REDACTED,
        "max_tokens": 256,
        "author": "alice",
        "request": {"headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED}, "url": "https://x"},
        "calls": [{"access_token": REDACTED, "tool": "drive"}, "plain"],
        "clientSecret": REDACTED,
        "Set-Cookie": REDACTED,
    }


def test_it_redacts_span_metadata(execution):
    with span("llm", execution_id=execution.id, metadata={"config": {"api_key": "sk-123", "model": "m"}}) as current:
        current.metadata["token"] = "abc"

    assert Trace.objects.get(pk=current.id).metadata == {
        "config": {"api_key": REDACTED, "model": "m"},
        "token": REDACTED,
    }


# Metrics


def test_it_records_metrics_with_tags(db, django_assert_num_queries):
    metrics.record("step.duration_ms", 120, tool="drive.read", password="x")
    with django_assert_num_queries(1):
        metrics.record_many([("step.duration_ms", value, {"tool": "drive.read"}) for value in (80, 100)])

    assert Metric.objects.filter(metric_name="step.duration_ms").count() == 3
    first = Metric.objects.get(metric_value=120)
    assert first.tags == {"tool": "drive.read", "password": REDACTED}
    assert first.timestamp is not None


def test_it_summarises_a_metric(db):
    metrics.record_many([("run.tokens", float(value), {}) for value in range(1, 101)])
    metrics.record("other", 1000)

    figures = metrics.summary("run.tokens")

    assert figures == {"count": 100, "mean": 50.5, "p50": 50.0, "p95": 95.0, "max": 100.0}


def test_it_summarises_only_since_a_moment(db):
    metrics.record("run.tokens", 5)
    Metric.objects.update(timestamp=timezone.now() - timedelta(hours=2))
    metrics.record("run.tokens", 7)

    assert metrics.summary("run.tokens", since=timezone.now() - timedelta(hours=1))["count"] == 1
    assert metrics.summary("nothing") == {"count": 0, "mean": None, "p50": None, "p95": None, "max": None}


# Database log handler


@pytest.mark.django_db(transaction=True)
def test_it_writes_buffered_logs_of_a_run_in_few_queries(db_logger, django_assert_max_num_queries):
    """In autocommit, as the flusher thread and the engine's end-of-run flush are: one insert.

    SQLite logs the BEGIN and COMMIT around it; PostgreSQL would show the insert alone.
    """
    logger, handler = db_logger
    execution = ExecutionFactory.create()
    with django_assert_max_num_queries(0):
        for number in range(100):
            logger.info("step %s done", number, extra={"execution_id": execution.id, "step_number": number})

    with django_assert_max_num_queries(3):
        handler.flush()

    logs = Log.objects.filter(execution=execution)
    assert logs.count() == 100
    first = logs.order_by("timestamp", "id").first()
    assert first.message == "step 0 done"
    assert first.level == "INFO"
    assert first.source == logger.name
    assert first.metadata == {"step_number": 0}


def test_it_keeps_selected_extras_and_the_exception_redacted(execution, db_logger):
    logger, handler = db_logger
    try:
        raise ValueError("bad input")
    except ValueError:
        logger.exception(
            "tool failed",
            extra={"execution_id": str(execution.id), "tool": "drive.read", "agent": "drive", "request": "x"},
        )
    logger.info("calling", extra={"execution_id": execution.id, "tool": {"name": "http", "token": "t"}})
    handler.flush()

    failed, calling = Log.objects.filter(execution=execution).order_by("timestamp", "id")
    assert failed.level == "ERROR"
    assert failed.metadata["tool"] == "drive.read"
    assert failed.metadata["agent"] == "drive"
    assert "request" not in failed.metadata
    assert "ValueError: bad input" in failed.metadata["exception"]
    assert calling.metadata == {"tool": {"name": "http", "token": REDACTED}}


def test_it_ignores_records_without_an_execution_below_warning(db, db_logger):
    logger, handler = db_logger
    logger.info("no run here")
    logger.warning("disk nearly full")
    handler.flush()

    rows = Log.objects.filter(source=logger.name).values_list("level", "message", "execution")
    assert list(rows) == [("WARNING", "disk nearly full", None)]


def test_it_can_leave_out_warnings_without_an_execution(db):
    handler = DatabaseLogHandler(flush_interval=60, include_warnings=False)
    handler.handle(logging.makeLogRecord({"name": "tests.quiet", "levelno": logging.ERROR, "msg": "boom"}))
    handler.close()

    assert not Log.objects.filter(source="tests.quiet").exists()


@pytest.mark.parametrize(
    "in_transaction",
    [
        pytest.param(True, marks=pytest.mark.django_db),
        pytest.param(False, marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_it_keeps_the_id_of_an_unknown_execution_without_linking_it(in_transaction, db_logger):
    logger, handler = db_logger
    execution = ExecutionFactory.create()
    missing = uuid.uuid4()
    logger.info("late line", extra={"execution_id": missing})
    logger.info("good line", extra={"execution_id": execution.id})
    handler.flush()

    assert Log.objects.get(source=logger.name, message="good line").execution_id == execution.id
    late = Log.objects.get(source=logger.name, message="late line")
    assert late.execution_id is None
    assert late.metadata == {"execution_id": str(missing)}
    assert handler.dropped == 0


def test_it_ignores_database_logging_and_its_own_writes(execution, db_logger):
    logger, handler = db_logger
    handler.handle(
        logging.makeLogRecord({"name": "django.db.backends", "msg": "INSERT ...", "execution_id": str(execution.id)})
    )
    logger.info("kept", extra={"execution_id": execution.id})
    handler.flush()

    assert list(Log.objects.filter(execution=execution).values_list("message", flat=True)) == ["kept"]


def test_it_flushes_every_live_handler(execution, db_logger):
    logger, _handler = db_logger
    logger.info("finished", extra={"execution_id": execution.id})

    flush_database_logs()

    assert Log.objects.filter(execution=execution, message="finished").exists()


def _rename_table(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")


def test_it_never_raises_when_the_database_write_fails(execution, db_logger, capsys):
    logger, handler = db_logger

    _rename_table("logs", "logs_out_of_reach")  # every write to the table fails, as with a database gone
    for attempt in range(2):
        logger.error("step failed", extra={"execution_id": execution.id, "attempt": attempt})
        handler.flush()

    assert capsys.readouterr().err.count("dropped 1 log record(s)") == 1
    assert handler.dropped == 2
    _rename_table("logs_out_of_reach", "logs")
    logger.error("recovered", extra={"execution_id": execution.id})
    handler.flush()
    assert list(Log.objects.filter(source=logger.name).values_list("message", flat=True)) == ["recovered"]


@pytest.mark.django_db(transaction=True)
def test_it_collects_logs_from_eight_threads_at_once(db_logger):
    logger, handler = db_logger
    execution = ExecutionFactory.create()
    start = threading.Barrier(8)

    def worker(number: int) -> None:
        start.wait()
        for line in range(50):
            logger.info("worker %s line %s", number, line, extra={"execution_id": execution.id, "step_number": number})

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.flush()

    assert Log.objects.filter(execution=execution).count() == 400
    assert set(Log.objects.filter(execution=execution).values_list("metadata__step_number", flat=True)) == set(range(8))
    assert handler.dropped == 0


@pytest.mark.django_db(transaction=True)
def test_it_writes_from_the_background_thread_when_the_buffer_fills():
    execution = ExecutionFactory.create()
    handler = DatabaseLogHandler(flush_interval=60, capacity=10)
    try:
        for line in range(10):
            handler.handle(_record("tests.background", execution.id, f"line {line}"))
        written = Log.objects.filter(execution=execution)
        deadline = time.monotonic() + 5
        while written.count() < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert written.count() == 10
    finally:
        handler.close()


def test_it_writes_a_full_buffer_in_the_logging_thread_without_a_flusher(
    execution, django_assert_num_queries, django_assert_max_num_queries
):
    handler = DatabaseLogHandler(capacity=10, background=False)
    try:
        with django_assert_num_queries(0):
            for line in range(9):
                handler.handle(_record("tests.manual", execution.id, f"line {line}"))
        with django_assert_max_num_queries(4):
            handler.handle(_record("tests.manual", execution.id, "line 9"))
        assert Log.objects.filter(execution=execution).count() == 10
        assert handler._thread is None
    finally:
        handler.close()


def test_it_discards_queued_records(execution, db_logger):
    logger, handler = db_logger
    logger.info("never written", extra={"execution_id": execution.id})

    assert discard_database_logs() >= 1
    handler.flush()
    assert not Log.objects.filter(execution=execution).exists()


def _record(name: str, execution_id: uuid.UUID | str, message: str) -> logging.LogRecord:
    return logging.makeLogRecord({"name": name, "levelno": logging.INFO, "msg": message, "execution_id": execution_id})


def test_it_does_not_wait_for_a_background_write_inside_a_transaction(execution, db_logger):
    """The background write may be waiting for this transaction's locks: waiting for it would deadlock."""
    logger, handler = db_logger
    logger.info("written at once", extra={"execution_id": execution.id})

    with handler._flush_lock:  # as if the flusher thread were stuck writing
        handler.flush()

    assert Log.objects.filter(execution=execution, message="written at once").exists()
