"""/api/v1/ (the versioned API), /api/schema/ (OpenAPI 3) and /api/docs/ (Swagger UI from packaged assets)."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api.errors import not_found
from api.views.approvals import ApprovalViewSet
from api.views.drive import DriveFilesView, DriveFileView
from api.views.executions import ExecutionViewSet
from api.views.webhooks import WebhookViewSet
from api.views.workspaces import MemberView, MeView, WorkspaceViewSet

router = SimpleRouter()
router.register("executions", ExecutionViewSet, basename="execution")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("workspaces", WorkspaceViewSet, basename="workspace")

v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("workspaces/<str:workspace_id>/files/", DriveFilesView.as_view(), name="drive-files"),
    path("workspaces/<str:workspace_id>/files/<path:name>", DriveFileView.as_view(), name="drive-file"),
    path("workspaces/<str:workspace_id>/members/<int:member_id>/", MemberView.as_view(), name="member"),
    *router.urls,
    re_path(r"^.*$", not_found),
]

app_name = "api"
urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
