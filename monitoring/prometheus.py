"""Prometheus metrics at /metrics, in the text exposition format (prometheus-client).

Two kinds of series:

- Counted where things happen, in whichever process they happen in: runs
  finished, step durations by tool, tokens, cache hits, approvals decided,
  HTTP requests and websocket connections. They are fed by the monitoring
  hooks (every metric row the engine stores), the `approval_decided` signal,
  `RequestMetricsMiddleware` and `count_websockets` around the ASGI app.
- Read from the tables at scrape time (`TableCollector`): runs by status,
  runs in flight, approvals waiting, the ready-step queue. The database is
  their one truth, so every process serving /metrics reports the same.

Several processes (daphne and Celery workers): set PROMETHEUS_MULTIPROC_DIR
to one empty directory in all of them on a host; every process writes its
counters there and /metrics adds them up (prometheus-client's multiprocess
mode). Without it, /metrics shows the serving process only, which is all of
it in the embedded mode. See docs/monitoring.md.
"""

from __future__ import annotations

import atexit
import hmac
import ipaddress
import os
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitoring.models import Metric

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf"))

RUNS_FINISHED = Counter("orchestrate_runs_finished", "Runs that ended, by final status", ["status"])
RUN_DURATION = Histogram(
    "orchestrate_run_duration_seconds", "Time from submission to the end of a run", ["status"], buckets=DURATION_BUCKETS
)
STEP_DURATION = Histogram(
    "orchestrate_step_duration_seconds", "Duration of succeeded steps, by tool", ["tool"], buckets=DURATION_BUCKETS
)
TOKENS = Counter("orchestrate_tokens", "Model tokens used by steps, by tool", ["tool"])
CACHE_HITS = Counter("orchestrate_cache_hits", "Steps answered from the result cache, by tool", ["tool"])
APPROVALS_DECIDED = Counter("orchestrate_approvals_decided", "Approval requests decided, by outcome", ["status"])
HTTP_REQUESTS = Counter("orchestrate_http_requests", "HTTP requests served, by method and status", ["method", "status"])
HTTP_DURATION = Histogram(
    "orchestrate_http_request_duration_seconds", "Time to answer HTTP requests", ["method"], buckets=DURATION_BUCKETS
)
WEBSOCKETS_OPEN = Gauge(
    "orchestrate_websocket_connections", "Websocket connections open now", multiprocess_mode="livesum"
)
WEBSOCKETS_OPENED = Counter("orchestrate_websocket_connections_opened", "Websocket connections accepted")

if MULTIPROCESS:
    # A live-sum gauge of a process that is gone must stop counting; counters stay.
    atexit.register(multiprocess.mark_process_dead, os.getpid())


def observe_metric_rows(rows: Sequence[Metric]) -> None:
    """Hook listener: count what the engine just stored as metric rows."""
    for row in rows:
        tags = row.tags or {}
        if row.metric_name == "execution.duration_ms":
            status = str(tags.get("status", "unknown"))
            RUNS_FINISHED.labels(status=status).inc()
            RUN_DURATION.labels(status=status).observe(row.metric_value / 1000)
        elif row.metric_name == "step.duration_ms" and not tags.get("cached"):
            STEP_DURATION.labels(tool=str(tags.get("tool", "unknown"))).observe(row.metric_value / 1000)
        elif row.metric_name == "step.tokens" and row.metric_value:
            TOKENS.labels(tool=str(tags.get("tool", "unknown"))).inc(row.metric_value)
        elif row.metric_name == "cache.hit":
            CACHE_HITS.labels(tool=str(tags.get("tool", "unknown"))).inc()


def count_approval(sender: object, approval: Any, **kwargs: Any) -> None:
    """`approval_decided` receiver."""
    APPROVALS_DECIDED.labels(status=str(approval.status)).inc()


class TableCollector(Collector):
    """Gauges read from the tables when Prometheus scrapes: a few indexed counts."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from orchestration.models import Execution, ExecutionStep, StepStatus
        from safety.models import ApprovalStatus, PendingApproval

        runs = GaugeMetricFamily("orchestrate_runs", "Runs stored, by status", labels=["status"])
        for status, count in Execution.objects.order_by().values_list("status").annotate(n=Count("pk")):
            runs.add_metric([status], count)
        yield runs

        waiting = PendingApproval.objects.filter(status=ApprovalStatus.PENDING).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "orchestrate_approvals_waiting", "Approval requests waiting for a person", value=waiting["n"]
        )
        age = (timezone.now() - waiting["oldest"]).total_seconds() if waiting["oldest"] else 0.0
        yield GaugeMetricFamily(
            "orchestrate_approvals_oldest_wait_seconds", "How long the oldest waiting approval has waited", value=age
        )

        steps = GaugeMetricFamily(
            "orchestrate_steps_unfinished", "Steps not yet finished, by status", labels=["status"]
        )
        unfinished = [StepStatus.PENDING, StepStatus.RUNNING, StepStatus.WAITING_APPROVAL, StepStatus.THROTTLED]
        for status, count in (
            ExecutionStep.objects.filter(status__in=unfinished).order_by().values_list("status").annotate(n=Count("pk"))
        ):
            steps.add_metric([status], count)
        yield steps
        ready = ExecutionStep.objects.filter(
            status__in=[StepStatus.PENDING, StepStatus.THROTTLED], remaining_deps=0
        ).count()
        yield GaugeMetricFamily(
            "orchestrate_queue_depth", "Steps ready to run and not yet taken by a worker", value=ready
        )


_tables = CollectorRegistry(auto_describe=False)
_tables.register(TableCollector())


def exposition() -> bytes:
    """The whole /metrics body: every process's counters (or this one's) and the table gauges."""
    if MULTIPROCESS:
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        counted = generate_latest(processes)
    else:
        counted = generate_latest(REGISTRY)
    return counted + generate_latest(_tables)


def client_allowed(request: HttpRequest) -> bool:
    """From an allow-listed address, or with the bearer token when one is configured."""
    token = settings.ORCHESTRATE_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.ORCHESTRATE_METRICS_ALLOW)


class RequestMetricsMiddleware:
    """Counts every HTTP request by method and status, and times it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._count(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        self._count(request, response, started)
        return response

    @staticmethod
    def _count(request: HttpRequest, response: HttpResponse, started: float) -> None:
        method = request.method if request.method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"} else "OTHER"
        HTTP_REQUESTS.labels(method=method, status=str(response.status_code)).inc()
        HTTP_DURATION.labels(method=method).observe(time.perf_counter() - started)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def count_websockets(app: ASGIApp) -> ASGIApp:
    """Wrap the websocket side of the ASGI router: a connection counts while its consumer runs."""

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        WEBSOCKETS_OPENED.inc()
        WEBSOCKETS_OPEN.inc()
        try:
            await app(scope, receive, send)
        finally:
            WEBSOCKETS_OPEN.dec()

    return counted
