"""Changing who belongs to a workspace, in which role, with which extra grants.

The rules, in one place:

- Any signed-in user may create a workspace and becomes its owner. A
  workspace holds only what its members put in it, so creating one gives
  nobody access to anything they did not already have.
- Managing members and grants needs `manage_members` in the workspace
  (owners and admins by role, or anyone granted it workspace-wide).
- Only an owner (by role; a grant never makes someone an owner) may make
  someone an owner, or change or remove an owner. Admins manage admins,
  operators and viewers, themselves included.
- A workspace keeps at least one owner: the last one can be neither
  demoted nor removed ("A workspace needs at least one owner.").
- A grant may only give actions the granting person may take
  workspace-wide themselves, and only they may remove it: an admin cannot
  hand out (or take back) `delete_workspace`.
- Removing a member removes their grants in that workspace too, so being
  added back later starts from the role alone.
- People join by invitation only (tenancy.invitations): an invitee accepts
  or declines; any member may leave.

Each change runs in a transaction that first locks the workspace's row
(SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers anyway), so
changes to one workspace's members happen one after another and the
owner count read inside the lock is still true when the change is written.
Permissions are checked inside the lock too, against the actor's role as it
is then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from tenancy.access import may, role_of
from tenancy.models import Workspace, WorkspaceMember, WorkspacePermission
from tenancy.roles import ANY_RESOURCE, Action, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    StrOrPromise = str | _StrPromise

LAST_OWNER = _("A workspace needs at least one owner.")
NOT_A_MANAGER = _("You may not manage the members of this workspace.")
OWNERS_ONLY = _("Only an owner can make someone an owner, or change or remove an owner.")


class MembershipError(Exception):
    """A change that breaks one of the rules above; the message says why, for people."""

    def __init__(self, message: StrOrPromise) -> None:
        super().__init__(message)
        self.message = message


def assignable_roles(actor_role: str | None) -> list[tuple[str, str]]:
    """The roles someone in `actor_role` may give: owners any, everyone else all but owner (labels translated)."""
    return [(value, str(label)) for value, label in Role.choices if actor_role == Role.OWNER or value != Role.OWNER]


def create_workspace(actor: User, name: str) -> Workspace:
    """A new workspace with `actor` as its owner."""
    name = name.strip()
    if not name:
        raise MembershipError(_("Give the workspace a name."))
    taken = MembershipError(_("A workspace named “%(name)s” already exists; choose another name.") % {"name": name})
    if Workspace.objects.filter(name__iexact=name).exists():
        raise taken
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(name=name)
            WorkspaceMember.objects.create(workspace=workspace, user=actor, role=Role.OWNER)
    except IntegrityError:  # created by someone else since the check
        raise taken from None
    return workspace


def lock_workspace(workspace: Workspace) -> None:
    list(Workspace.objects.select_for_update().filter(pk=workspace.pk).values_list("pk", flat=True))


def manager_role(actor: User, workspace: Workspace) -> str | None:
    """The actor's role, after checking they may manage members at all."""
    if not may(actor, Action.MANAGE_MEMBERS, workspace):
        raise PermissionDenied(NOT_A_MANAGER)
    return role_of(actor, workspace)


def _member(workspace: Workspace, member_id: int) -> WorkspaceMember:
    member = WorkspaceMember.objects.select_related("user").filter(workspace=workspace, pk=member_id).first()
    if member is None:
        raise MembershipError(_("That person is no longer a member of this workspace."))
    return member


def owner_count(workspace: Workspace) -> int:
    return WorkspaceMember.objects.filter(workspace=workspace, role=Role.OWNER).count()


def check_owner_rule(actor_role: str | None, *roles: str) -> None:
    if Role.OWNER in roles and actor_role != Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY)


def change_role(actor: User, workspace: Workspace, member_id: int, role: str) -> WorkspaceMember:
    if role not in Role.values:
        raise MembershipError(_("Choose a role."))
    with transaction.atomic():
        lock_workspace(workspace)
        actor_role = manager_role(actor, workspace)
        member = _member(workspace, member_id)
        if member.role == role:
            return member
        check_owner_rule(actor_role, member.role, role)
        if member.role == Role.OWNER and owner_count(workspace) <= 1:
            raise MembershipError(LAST_OWNER)
        # Conditional on the role we checked, though the lock already keeps others out.
        if not WorkspaceMember.objects.filter(pk=member.pk, role=member.role).update(role=role):
            raise MembershipError(_("That member's role changed meanwhile; look again and retry."))
        member.role = role
        return member


def remove_member(actor: User, workspace: Workspace, member_id: int) -> WorkspaceMember:
    """Remove the member and their grants here; returns the membership as it was."""
    with transaction.atomic():
        lock_workspace(workspace)
        actor_role = manager_role(actor, workspace)
        member = _member(workspace, member_id)
        check_owner_rule(actor_role, member.role)
        if member.role == Role.OWNER and owner_count(workspace) <= 1:
            raise MembershipError(LAST_OWNER)
        if not WorkspaceMember.objects.filter(pk=member.pk, role=member.role).delete()[0]:
            raise MembershipError(_("That member's role changed meanwhile; look again and retry."))
        WorkspacePermission.objects.filter(workspace=workspace, user_id=member.user_id).delete()
        return member


def _check_may_grant(actor: User, workspace: Workspace, actions: Iterable[str]) -> None:
    beyond = [action for action in actions if not may(actor, action, workspace)]
    if beyond:
        labels = ", ".join(Action(action).label.lower() for action in beyond)
        raise PermissionDenied(_("You may only grant what you may do yourself, not: %(labels)s.") % {"labels": labels})


def add_grant(
    actor: User,
    workspace: Workspace,
    *,
    user: User | None,
    resource_type: str,
    resource_id: str,
    permissions: list[str],
) -> WorkspacePermission:
    """Grant actions on a resource (or every one of its type) to a member, or to everyone (user None)."""
    grant = WorkspacePermission(
        workspace=workspace,
        user=user,
        resource_type=resource_type,
        resource_id=resource_id.strip() or ANY_RESOURCE,
        # In the order of Action; unknown ones kept at the end for full_clean() to name.
        permissions=[a for a in Action.values if a in permissions] + sorted(set(permissions) - set(Action.values)),
    )
    try:
        grant.full_clean(exclude=["workspace", "user"], validate_constraints=False)
    except ValidationError as exc:
        raise MembershipError(" ".join(exc.messages)) from None
    with transaction.atomic():
        lock_workspace(workspace)
        manager_role(actor, workspace)
        _check_may_grant(actor, workspace, grant.permissions)
        if user is not None and role_of(user, workspace) is None:
            raise MembershipError(
                _("%(who)s is not a member of %(name)s.") % {"who": user.get_username(), "name": workspace.name}
            )
        same = WorkspacePermission.objects.filter(
            workspace=workspace, user=user, resource_type=grant.resource_type, resource_id=grant.resource_id
        )
        if same.exists():
            raise MembershipError(_("There is already a grant for them on that resource; remove it first."))
        grant.save()
    return grant


def remove_grant(actor: User, workspace: Workspace, grant_id: int) -> None:
    with transaction.atomic():
        lock_workspace(workspace)
        manager_role(actor, workspace)
        grant = WorkspacePermission.objects.filter(workspace=workspace, pk=grant_id).first()
        if grant is None:
            raise MembershipError(_("That grant no longer exists."))
        _check_may_grant(actor, workspace, grant.permissions)
        grant.delete()
