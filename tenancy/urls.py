from __future__ import annotations

from django.urls import path

from tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.workspace_list, name="list"),
    path("create/", views.create_workspace, name="create"),
    path("switch/", views.switch_workspace, name="switch"),
    path("<uuid:workspace_id>/", views.workspace_detail, name="detail"),
    path("<uuid:workspace_id>/members/add/", views.add_member, name="add_member"),
    path(
        "<uuid:workspace_id>/invitations/<uuid:invitation_id>/cancel/",
        views.cancel_invitation,
        name="cancel_invitation",
    ),
    path("<uuid:workspace_id>/leave/", views.leave_workspace, name="leave"),
    path("invitations/<uuid:invitation_id>/accept/", views.accept_invitation, name="accept_invitation"),
    path("invitations/<uuid:invitation_id>/decline/", views.decline_invitation, name="decline_invitation"),
    path("<uuid:workspace_id>/members/<int:member_id>/role/", views.change_role, name="change_role"),
    path("<uuid:workspace_id>/members/<int:member_id>/remove/", views.remove_member, name="remove_member"),
    path("<uuid:workspace_id>/grants/add/", views.add_grant, name="add_grant"),
    path("<uuid:workspace_id>/grants/<int:grant_id>/remove/", views.remove_grant, name="remove_grant"),
]
