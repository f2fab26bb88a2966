from __future__ import annotations

import secrets
import uuid
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from tenancy.integrations import SealedSecretsJSONField
from tenancy.roles import ANY_RESOURCE, Action, ResourceType, Role
from tenancy.scoping import TenantQuerySet


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class Workspace(models.Model):
    """An organisation: everything a tenant owns hangs off one workspace."""

    workspace_path: ClassVar[str] = "id"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Per-workspace settings of integrations: {"caldav": {"url", "username", "password", "calendar"},
    # "rate_limits": {"<integration>.<operation>": {"limit": n, "window_seconds": s}}}.
    # Passwords, tokens and keys in it are sealed in the database and masked in forms.
    integrations = SealedSecretsJSONField(
        default=dict, blank=True, help_text="Stored secrets show as placeholders: leave one as it is to keep it."
    )
    # The secret in the URL of the workspace's ICS feed; rotate it to revoke old subscriptions.
    calendar_feed_token = models.CharField(max_length=64, default=new_feed_token, unique=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "workspaces"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkspaceMember(models.Model):
    """A user's membership of a workspace, with the role that sets what they may do."""

    workspace_path: ClassVar[str] = "workspace"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "workspace_members"
        ordering = ["workspace__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="workspace_member_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="workspace_member_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class WorkspacePermission(models.Model):
    """A grant of extra actions on one resource (or all of a type) in a workspace.

    With `user` set the grant is that member's; with no user it applies to
    every member of the workspace. Grants add to a member's role and only
    count for members: a grant never lets an outsider in.
    """

    workspace_path: ClassVar[str] = "workspace"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="permission_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="permission_grants",
        help_text="Leave empty to grant to every member of the workspace.",
    )
    resource_type = models.CharField(max_length=32, choices=ResourceType.choices)
    resource_id = models.CharField(max_length=100, default=ANY_RESOURCE, help_text='"*" for every resource of the type')
    permissions = models.JSONField(default=list, help_text="List of actions granted")

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "workspace_permissions"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user", "resource_type", "resource_id"],
                condition=models.Q(user__isnull=False),
                name="workspace_permission_user_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace", "resource_type", "resource_id"],
                condition=models.Q(user__isnull=True),
                name="workspace_permission_everyone_unique",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "resource_type"], name="ws_perm_type_idx")]

    def __str__(self) -> str:
        who = self.user or "everyone"
        return f"{who}: {', '.join(self.permissions)} on {self.resource_type}:{self.resource_id}"

    def clean(self) -> None:
        if not isinstance(self.permissions, list) or not self.permissions:
            raise ValidationError({"permissions": "Give a non-empty list of actions."})
        unknown = sorted(set(map(str, self.permissions)) - set(Action.values))
        if unknown:
            raise ValidationError({"permissions": f"Unknown actions: {', '.join(unknown)}"})


class LoginThrottle(models.Model):
    """Recent failed logins for one username or one client address (`key`: "user:<name>" or "addr:<ip>").

    Kept in the database so a restart does not forget a lock; see tenancy/login_throttle.py.
    """

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "login_throttles"

    def __str__(self) -> str:
        return f"{self.key}: {self.failures} failures"


class WorkspaceInvitation(models.Model):
    """An invitation to join a workspace in a role, pending until the invitee accepts or declines it.

    A table of its own rather than a status on `workspace_members`: every access
    check reads that table, and a pending row there would have to be filtered
    out by each of them; one forgotten filter would let an invitee in before
    they said yes. Here a `workspace_members` row still simply means access.

    `identifier` is what the inviter typed. When it matches no account, the
    invitation is kept all the same (with no user) and looks exactly like any
    other to the inviter, so the form never tells whether a username or an
    e-mail address exists on the server; nobody can accept it.
    """

    workspace_path: ClassVar[str] = "workspace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    identifier = models.CharField(max_length=254, help_text="The username or e-mail address the inviter typed")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "workspace_invitations"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "identifier"], name="workspace_invitation_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="workspace_invitation_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} to {self.workspace} ({self.role})"


class ApiToken(models.Model):
    """A personal API token: acts as its user in the REST API until it expires or is revoked.

    Only a SHA-256 hash of the token is kept (the token is 32 random bytes, so
    a plain hash is enough); the token itself is shown once, at creation.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class UserPreference(models.Model):
    """One person's console preferences: the language the console speaks to them (chosen in the navigation)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_preferences"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
