"""The pages of the built-in defaults: the workspace's Outbox (kept e-mail) and Calendar.

Both show the current workspace only; a file of another workspace answers 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from orchestration.calendar_feed import workspace_events
from orchestration.outbox import outbox_attachment, outbox_path, workspace_outbox
from tools.integrations.calendar.client import calendar_backend
from tools.integrations.calendar.settings import caldav_config
from tools.integrations.email.outbox import NOT_DELIVERED, outbox_in_use


@login_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {
        "messages_kept": workspace_outbox(workspace) if workspace is not None else [],
        "outbox_in_use": outbox_in_use(),
        "not_delivered": NOT_DELIVERED,
        "mail_host": getattr(settings, "EMAIL_HOST", ""),
    }
    return render(request, "orchestration/outbox.html", context)


@login_required
@require_GET
def outbox_message(request: HttpRequest, name: str) -> FileResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    path = outbox_path(workspace, name) if workspace is not None else None
    if path is None:
        raise Http404("No such message.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="message/rfc822")


@login_required
@require_GET
def outbox_attachment_file(request: HttpRequest, name: str, index: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    found = outbox_attachment(workspace, name, index) if workspace is not None else None
    if found is None:
        raise Http404("No such attachment.")
    attachment, data = found
    response = HttpResponse(data, content_type="application/octet-stream")
    # Always a download: an attached HTML file must never render as a page of this site.
    response["Content-Disposition"] = f'attachment; filename="{_safe(attachment.filename)}"'
    return response


def _safe(filename: str) -> str:
    return "".join(char if char.isalnum() or char in "._- " else "_" for char in filename)[:200] or "attachment"


@login_required
@require_GET
def calendar(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    backend = calendar_backend(str(workspace.pk)) if workspace is not None else "builtin"
    config = caldav_config(str(workspace.pk)) if workspace is not None and backend == "caldav" else None
    feed = (
        request.build_absolute_uri(reverse("calendar_feed", args=[workspace.calendar_feed_token]))
        if workspace is not None
        else ""
    )
    context = {
        "events": workspace_events(workspace) if workspace is not None else [],
        "backend": backend,
        "caldav_host": config.host if config is not None else "",
        "feed_url": feed,
    }
    return render(request, "orchestration/calendar.html", context)
