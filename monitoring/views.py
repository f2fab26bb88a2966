"""Monitoring pages: the dashboard, the logs page, a run's waterfall fragment, and /metrics."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring import dashboard, logsearch, panels, prometheus, waterfall
from monitoring.forms import DashboardForm, LogFilterForm
from orchestration.fragments import visible_execution
from tenancy.models import Workspace

# How often open pages ask for fresh figures (htmx `every`); the page says so.
DASHBOARD_POLL_SECONDS = 5
TAIL_POLL_SECONDS = 2


@login_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    """The dashboard; htmx polls ask for the panels only."""
    workspaces = list(Workspace.objects.for_user(request.user).order_by("name"))
    form = DashboardForm(request.GET or None, workspaces=workspaces)
    ids, range_key = form.chosen()
    board = dashboard.build(ids, range_key)
    context = {
        "form": form,
        "board": board,
        "tiles": panels.tiles(board),
        "charts": panels.charts(board),
        "poll_seconds": DASHBOARD_POLL_SECONDS,
        "has_workspaces": bool(workspaces),
    }
    if request.htmx and request.htmx.target == "dashboard-panels":  # type: ignore[attr-defined]
        return render(request, "monitoring/inc/dashboard_panels.html", context)
    return render(request, "monitoring/dashboard.html", context)


def _log_form(request: HttpRequest) -> tuple[LogFilterForm, logsearch.LogFilters | None]:
    workspaces = list(Workspace.objects.for_user(request.user).order_by("name"))
    form = LogFilterForm(request.GET, workspaces=workspaces)
    return form, (form.filters() if form.is_valid() else None)


def _cursor(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@login_required
@require_GET
def logs_view(request: HttpRequest) -> HttpResponse:
    form, filters = _log_form(request)
    rows: list = []
    next_before = None
    if filters is not None:
        rows, next_before = logsearch.page(request.user, filters, before=_cursor(request.GET.get("before")))
    following = request.GET.get("follow") == "1" and filters is not None and not request.GET.get("before")
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "rows": rows,
        "next_query": urlencode({**query.dict(), "before": next_before}) if next_before else "",
        "following": following,
        "follow_query": urlencode({**query.dict(), "follow": "1"}),
        "unfollow_query": urlencode({k: v for k, v in query.dict().items() if k != "follow"}),
        "tail_query": urlencode({**query.dict(), "after": rows[0].pk if rows else logsearch.newest_id()}),
        "poll_seconds": TAIL_POLL_SECONDS,
        "paged": bool(request.GET.get("before")),
    }
    return render(request, "monitoring/logs.html", context, status=200 if filters is not None else 400)


@login_required
@require_GET
@never_cache
def logs_tail(request: HttpRequest) -> HttpResponse:
    """New lines for a following logs page (newest first), and the poller with the new cursor."""
    _form, filters = _log_form(request)
    after = _cursor(request.GET.get("after"))
    if filters is None or after is None:
        return HttpResponse("Bad filters or cursor.", status=400, content_type="text/plain")
    rows = logsearch.tail(request.user, filters, after)
    query = request.GET.copy()
    query["after"] = str(rows[0].pk if rows else after)
    return render(
        request,
        "monitoring/inc/logs_tail.html",
        {"rows": rows, "tail_query": query.urlencode(), "poll_seconds": TAIL_POLL_SECONDS, "following": True},
    )


@login_required
@require_GET
def waterfall_view(request: HttpRequest, execution_id: uuid.UUID) -> HttpResponse:
    """A run's waterfall section (the execution page polls it while the run is open)."""
    execution = visible_execution(request.user, execution_id)
    if execution is None:
        raise Http404("No such execution.")
    return render(
        request,
        "monitoring/inc/waterfall.html",
        {"execution": execution, "chart": waterfall.build(execution.pk), "poll_seconds": DASHBOARD_POLL_SECONDS},
    )


@require_GET
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition: allow-listed addresses, or a bearer token when one is configured."""
    if not prometheus.client_allowed(request):
        response = HttpResponse("Not allowed to read metrics.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(prometheus.exposition(), content_type=CONTENT_TYPE_LATEST)
