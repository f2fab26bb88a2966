"""Files: upload to the current workspace's drive, download drive files and stored step outputs.

Downloads are scoped like everything else: a workspace or run the user is
not a member of answers 404, whatever the name asked for.
"""

from __future__ import annotations

import posixpath
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest
from orchestration.engine.outputs import ForeignOutputReference, stored_path
from orchestration.forms import UploadForm
from orchestration.fragments import visible_execution
from orchestration.views.executions import NOT_A_MEMBER, render_index
from tenancy.access import may
from tenancy.models import Workspace
from tenancy.roles import Action
from tools.drive import HIDDEN_PREFIX, DriveError, DriveFile, WorkspaceDrive, clean_name


def save_uploads(drive: WorkspaceDrive, files: list[tuple[str, UploadedFile]]) -> list[DriveFile]:
    """Write each (name, upload) to the drive, streamed; a file of the same name is replaced."""
    return [drive.write_file(name, upload) for name, upload in files]


@login_required
@require_POST
def upload(request: AuthedRequest) -> HttpResponse:
    workspace = request.workspace
    form = UploadForm(request.POST, request.FILES)
    if workspace is None:
        form.add_error(None, NOT_A_MEMBER)
        return render_index(request, upload_form=form, status=403)
    if not may(request.user, Action.RUN, workspace):
        form.add_error(
            None, _("You may not upload files to %(name)s: viewers can only look.") % {"name": workspace.name}
        )
        return render_index(request, upload_form=form, status=403)
    if not form.is_valid():
        return render_index(request, upload_form=form, status=200)
    saved = save_uploads(WorkspaceDrive(workspace.pk), form.cleaned_data["files"])
    names = ", ".join(file.name for file in saved)
    messages.success(
        request, _("Uploaded %(names)s to the drive of %(name)s.") % {"names": names, "name": workspace.name}
    )
    return redirect(reverse("orchestration:index") + "#drive")


@login_required
@require_GET
def drive_file(request: AuthedRequest, workspace_id: uuid.UUID, name: str) -> FileResponse:
    """A file of one of the user's workspaces' drives, streamed as an attachment."""
    workspace = Workspace.objects.for_user(request.user).filter(pk=workspace_id).first()
    if workspace is None:
        raise Http404("No such file.")
    drive = WorkspaceDrive(workspace.pk)
    try:
        clean = clean_name(name)
    except DriveError:
        raise Http404("No such file.") from None
    path = f"{drive.prefix}/{clean}"
    if clean.startswith(HIDDEN_PREFIX) or not drive.storage.exists(path):
        raise Http404("No such file.")
    # Always an attachment: an uploaded HTML file must never render as a page of this site.
    return FileResponse(drive.storage.open(path, "rb"), as_attachment=True, filename=posixpath.basename(clean))


@login_required
@require_GET
def step_output(request: AuthedRequest, execution_id: uuid.UUID, step_number: int) -> FileResponse:
    """The full output of a step whose output was too large to keep in its row.

    Only the run's own stored output is served: the row's reference must be
    the file the engine writes for this workspace, run and step.
    """
    execution = visible_execution(request.user, execution_id)
    if execution is None:
        raise Http404("No stored output for this step.")
    step = execution.steps.filter(step_number=step_number).first()
    if step is None:
        raise Http404("No stored output for this step.")
    try:
        path = stored_path(
            step.output, workspace_id=execution.workspace_id, execution_id=execution.pk, step_number=step_number
        )
    except ForeignOutputReference:
        raise Http404("No stored output for this step.") from None
    if not default_storage.exists(path):
        raise Http404("No stored output for this step.")
    return FileResponse(
        default_storage.open(path, "rb"),
        as_attachment=True,
        filename=f"execution-{execution.pk}-step-{step_number}.json",
        content_type="application/json",
    )
