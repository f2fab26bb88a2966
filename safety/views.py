from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from safety.models import ApprovalStatus, PendingApproval
from tenancy.access import scope


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    pending = scope(
        PendingApproval.objects.filter(status=ApprovalStatus.PENDING).select_related("execution__workspace"),
        request.user,
    ).order_by("created_at")
    return render(request, "safety/queue.html", {"approvals": pending})
