from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from monitoring.views import metrics_view
from orchestration.calendar_feed import calendar_feed
from tenancy.login import AdminLoginForm, LoginView
from tenancy.views import switch_language
from webhooks.views.inbound import inbound

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="orchestration:index", permanent=False)),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", switch_language, name="language"),
    path("", include("orchestration.urls")),
    path("calendar/<str:token>.ics", calendar_feed, name="calendar_feed"),
    path("hooks/<str:public_id>/", inbound, name="webhook_inbound"),
    path("api/", include("api.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("mcp-servers/", include("tools_mcp.urls")),
    path("tokens/", include("tenancy.token_urls")),
    path("approvals/", include("safety.urls")),
    path("workspaces/", include("tenancy.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("learning/", include("learning.urls")),
    path("plans/", include("versioning.urls")),
    path("tools/", include("tools.urls")),
    path("plugins/", include("plugins.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]

admin.site.login_form = AdminLoginForm
admin.site.site_header = "Orchestrate administration"
admin.site.site_title = "Orchestrate admin"
