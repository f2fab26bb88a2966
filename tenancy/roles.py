"""Roles and the actions they allow.

A role is a fixed bundle of actions; `workspace_permissions` grants add
actions on top of a member's role for one resource (or every resource of a
type). Grants never take an action away: a role is the floor.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


class Action(models.TextChoices):
    VIEW = "view", "View runs and their results"
    RUN = "run", "Submit requests and run them"
    CANCEL = "cancel", "Cancel, retry and resume runs"
    APPROVE = "approve", "Approve or reject critical actions"
    MANAGE_MEMBERS = "manage_members", "Add, remove and change members"
    MANAGE_SETTINGS = "manage_settings", "Manage webhooks, plugins and workspace settings"
    DELETE_WORKSPACE = "delete_workspace", "Delete the workspace"


ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({Action.VIEW}),
    Role.OPERATOR: frozenset({Action.VIEW, Action.RUN, Action.CANCEL}),
    Role.ADMIN: frozenset(
        {
            Action.VIEW,
            Action.RUN,
            Action.CANCEL,
            Action.APPROVE,
            Action.MANAGE_MEMBERS,
            Action.MANAGE_SETTINGS,
        }
    ),
    Role.OWNER: frozenset(Action.values),
}


class ResourceType(models.TextChoices):
    """What a permission grant applies to; resource id "*" means every one."""

    WORKSPACE = "workspace", "Workspace"
    EXECUTION = "execution", "Execution"
    TOOL = "tool", "Tool"
    WEBHOOK = "webhook", "Webhook"
    PLUGIN = "plugin", "Plugin"


ANY_RESOURCE = "*"
