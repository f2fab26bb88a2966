"""A workspace's drive: list, upload, download. Only members reach it; only those who may run upload."""

from __future__ import annotations

import posixpath

from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import DriveFileSerializer, UploadSerializer
from api.views.base import parse_uuid
from orchestration.forms import MAX_UPLOAD_BYTES
from tenancy.access import may
from tenancy.models import Workspace
from tenancy.roles import Action
from tools.drive import HIDDEN_PREFIX, DriveError, WorkspaceDrive, clean_name


def _workspace(request: Request, workspace_id: object) -> Workspace:
    workspace = Workspace.objects.for_user(request.user).filter(pk=parse_uuid(workspace_id, "workspace")).first()
    if workspace is None:
        raise NotFound("No such workspace.")
    return workspace


class DriveFilesView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=DriveFileSerializer(many=True), operation_id="drive_files_list")
    def get(self, request: Request, workspace_id: str) -> Response:
        """Every file in the workspace's drive, by name."""
        files = WorkspaceDrive(_workspace(request, workspace_id).pk).list()
        return Response(DriveFileSerializer([file.as_dict() for file in files], many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: DriveFileSerializer},
        operation_id="drive_files_upload",
    )
    def post(self, request: Request, workspace_id: str) -> Response:
        """Upload one file (a file of the same name is replaced)."""
        workspace = _workspace(request, workspace_id)
        if not may(request.user, Action.RUN, workspace):
            raise PermissionDenied(f"You may not upload files to {workspace.name}: viewers can only look.")
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError({"file": [f"Files may be at most {MAX_UPLOAD_BYTES} bytes."]})
        try:
            name = clean_name(body.validated_data.get("name") or upload.name or "")
            if name.startswith(HIDDEN_PREFIX):
                raise DriveError(f"Names starting with {HIDDEN_PREFIX} are reserved.")
            saved = WorkspaceDrive(workspace.pk).write_bytes(name, b"".join(upload.chunks()))
        except DriveError as exc:
            raise ValidationError({"name": [str(exc)]}) from None
        except OSError as exc:  # e.g. a path part longer than the file system allows
            raise ValidationError(
                {"name": [f"The drive cannot store a file under that name ({exc.strerror})."]}
            ) from None
        return Response(DriveFileSerializer(saved.as_dict()).data, status=status.HTTP_201_CREATED)


class DriveFileView(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
        operation_id="drive_files_download",
    )
    def get(self, request: Request, workspace_id: str, name: str) -> FileResponse:
        """Download one file of the drive, as an attachment."""
        drive = WorkspaceDrive(_workspace(request, workspace_id).pk)
        try:
            clean = clean_name(name)
        except DriveError:
            raise NotFound("No such file.") from None
        path = f"{drive.prefix}/{clean}"
        if clean.startswith(HIDDEN_PREFIX) or not drive.storage.exists(path):
            raise NotFound("No such file.")
        return FileResponse(
            drive.storage.open(path, "rb"),
            as_attachment=True,
            filename=posixpath.basename(clean),
            content_type="application/octet-stream",
        )
