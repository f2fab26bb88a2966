"""Which tools a workspace switched off, and which it marked safe (approval waived).

The one place that reads and writes `WorkspaceToolSetting` rows. The planners
leave out `disabled_tools(workspace)`, the engine refuses a step whose tool
`is_tool_enabled()` says is off, and the safety gates may skip asking a person
when `approval_waived()` says the workspace marked the tool safe. A workspace
with no rows costs one indexed query per question and gets the defaults:
every tool on, every critical call asked about.

Changing a setting needs `manage_settings` on the tool (owners and admins,
or a grant for the tool), checked here so every caller (page, API, command)
refuses the same way.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, overload

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from tenancy.access import may
from tenancy.models import Workspace
from tenancy.roles import Action, ResourceType
from tools.models import ToolCatalog, WorkspaceToolSetting

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

WorkspaceRef = Workspace | uuid.UUID | str


class UnknownTool(ValueError):
    """The name is not a tool of the catalogue."""


@overload
def workspace_id_of(workspace: WorkspaceRef) -> uuid.UUID | str: ...
@overload
def workspace_id_of(workspace: WorkspaceRef | None) -> uuid.UUID | str | None: ...
def workspace_id_of(workspace: WorkspaceRef | None) -> uuid.UUID | str | None:
    """The id a workspace reference stands for (None for none)."""
    return workspace.pk if isinstance(workspace, Workspace) else workspace


def disabled_tools(workspace: WorkspaceRef | None) -> frozenset[str]:
    """Names of the tools switched off in the workspace (none for no workspace)."""
    if workspace is None:
        return frozenset()
    return frozenset(
        WorkspaceToolSetting.objects.filter(workspace_id=workspace_id_of(workspace), enabled=False).values_list(
            "tool_name", flat=True
        )
    )


def is_tool_enabled(workspace: WorkspaceRef, name: str) -> bool:
    """Whether the tool may be planned and run in the workspace (yes, unless switched off there)."""
    return not WorkspaceToolSetting.objects.filter(
        workspace_id=workspace_id_of(workspace), tool_name=name, enabled=False
    ).exists()


def approval_waived(workspace: WorkspaceRef, name: str) -> bool:
    """Whether the workspace marked the tool safe: its calls need no person's approval there."""
    return WorkspaceToolSetting.objects.filter(
        workspace_id=workspace_id_of(workspace), tool_name=name, approval_waived=True
    ).exists()


def settings_by_tool(workspace: WorkspaceRef) -> dict[str, WorkspaceToolSetting]:
    """The workspace's settings rows, by tool name (for pages listing many tools)."""
    rows = WorkspaceToolSetting.objects.filter(workspace_id=workspace_id_of(workspace))
    return {row.tool_name: row for row in rows}


def may_manage_tool(user: AbstractBaseUser | AnonymousUser, workspace: WorkspaceRef, name: str) -> bool:
    return may(user, Action.MANAGE_SETTINGS, workspace_id_of(workspace), ResourceType.TOOL, name)


def change_tool_setting(
    user: AbstractBaseUser | AnonymousUser,
    workspace: WorkspaceRef,
    name: str,
    *,
    enabled: bool | None = None,
    approval_waived: bool | None = None,
) -> WorkspaceToolSetting:
    """Switch a tool on or off, or mark it safe or not, in one workspace; the row as it now is.

    PermissionDenied without `manage_settings` on the tool; UnknownTool for a
    name the catalogue does not have.
    """
    if not may_manage_tool(user, workspace, name):
        raise PermissionDenied("You may not change which tools this workspace uses.")
    ours = Q(workspace__isnull=True) | Q(workspace_id=workspace_id_of(workspace))  # not another's MCP tool
    if not ToolCatalog.objects.filter(ours, name=name).exists():
        raise UnknownTool(f"There is no tool named {name!r} in the catalogue.")
    changes: dict[str, Any] = {"updated_by_id": user.pk}
    if enabled is not None:
        changes["enabled"] = enabled
    if approval_waived is not None:
        changes["approval_waived"] = approval_waived
    row, _ = WorkspaceToolSetting.objects.update_or_create(
        workspace_id=workspace_id_of(workspace), tool_name=name, defaults=changes
    )
    return row
