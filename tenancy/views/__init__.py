"""The workspace pages: the list (create, switch), one workspace's page, and its member and grant changes."""

from __future__ import annotations

from tenancy.views.grants import add_grant, remove_grant
from tenancy.views.invitations import accept_invitation, cancel_invitation, decline_invitation, leave_workspace
from tenancy.views.language import switch_language
from tenancy.views.members import add_member, change_role, remove_member
from tenancy.views.pages import workspace_detail
from tenancy.views.workspaces import create_workspace, switch_workspace, workspace_list

__all__ = [
    "accept_invitation",
    "add_grant",
    "add_member",
    "cancel_invitation",
    "change_role",
    "create_workspace",
    "decline_invitation",
    "leave_workspace",
    "remove_grant",
    "remove_member",
    "switch_language",
    "switch_workspace",
    "workspace_detail",
    "workspace_list",
]
