from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orchestration.models import Execution
from tenancy.access import scope

PAGE_SIZE = 25


@login_required
def index(request: HttpRequest) -> HttpResponse:
    executions = scope(Execution.objects.select_related("workspace", "user"), request.user)
    page = Paginator(executions.order_by("-created_at"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orchestration/index.html", {"page": page})
