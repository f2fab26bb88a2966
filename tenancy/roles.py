"""Roles and the actions they allow.

A role is a fixed bundle of actions; `workspace_permissions` grants add
actions on top of a member's role for one resource (or every resource of a
type). Grants never take an action away: a role is the floor.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")
    VIEWER = "viewer", _("Viewer")


class Action(models.TextChoices):
    VIEW = "view", _("View runs and their results")
    RUN = "run", _("Submit requests and run them")
    CANCEL = "cancel", _("Cancel, retry and resume runs")
    APPROVE = "approve", _("Approve or reject critical actions")
    MANAGE_MEMBERS = "manage_members", _("Add, remove and change members")
    MANAGE_SETTINGS = "manage_settings", _("Manage webhooks, plugins and workspace settings")
    DELETE_WORKSPACE = "delete_workspace", _("Delete the workspace")


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

    WORKSPACE = "workspace", _("Workspace")
    EXECUTION = "execution", _("Execution")
    TOOL = "tool", _("Tool")
    WEBHOOK = "webhook", _("Webhook")
    PLUGIN = "plugin", _("Plugin")


ANY_RESOURCE = "*"
