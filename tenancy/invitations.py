"""Membership by invitation, and leaving a workspace.

- A manager (`manage_members`) invites by username or e-mail address, in a
  role they may give (owners only invite owners). The invitee joins only by
  accepting it in the console; they may decline it; a manager may cancel it.
- The inviter is told the same thing whether or not the name matches an
  account ("If … has an account here, they are invited"), and the pending
  list shows what they typed either way: the form does not reveal who exists
  on the server, in another tenant or anywhere. Only "already a member of
  this workspace" is said, since managers see the member list anyway.
- Accepting adds the membership and nothing else: the invitee's current
  workspace stays the one they chose (tenancy.middleware).
- Any member may leave; a workspace keeps at least one owner, so the last
  owner must hand ownership on first. Leaving removes their grants there.

The rules shared with tenancy.services (locking, owner rules) come from there.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from tenancy.models import Workspace, WorkspaceInvitation, WorkspaceMember, WorkspacePermission
from tenancy.roles import Role
from tenancy.services import MembershipError, check_owner_rule, lock_workspace, manager_role, owner_count

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def normalise_identifier(identifier: str) -> str:
    identifier = identifier.strip()
    return identifier.lower() if "@" in identifier else identifier


def _account(identifier: str) -> User | None:
    """The one active user with this username, else with this e-mail (any case); None when not exactly one."""
    users = get_user_model().objects.filter(is_active=True)
    by_name = users.filter(username=identifier).first()
    if by_name is not None:
        return by_name
    by_email = list(users.filter(email__iexact=identifier)[:2])
    return by_email[0] if len(by_email) == 1 else None


def invite(actor: User, workspace: Workspace, identifier: str, role: str) -> WorkspaceInvitation:
    """A pending invitation (new, or the existing one with its role updated)."""
    if role not in Role.values:
        raise MembershipError(_("Choose a role."))
    identifier = normalise_identifier(identifier)
    if not identifier:
        raise MembershipError(_("Give a username or an e-mail address."))
    with transaction.atomic():
        lock_workspace(workspace)
        check_owner_rule(manager_role(actor, workspace), role)
        user = _account(identifier)
        if user is not None and WorkspaceMember.objects.filter(workspace=workspace, user=user).exists():
            raise MembershipError(
                _("%(who)s is already a member of %(name)s.") % {"who": identifier, "name": workspace.name}
            )
        invitation, created = WorkspaceInvitation.objects.get_or_create(
            workspace=workspace,
            identifier=identifier,
            defaults={"user": user, "role": role, "invited_by": actor},
        )
        if not created:
            invitation.role = role
            invitation.invited_by = actor
            invitation.save(update_fields=["role", "invited_by"])
        return invitation


def pending_for(user: User) -> list[WorkspaceInvitation]:
    return list(
        WorkspaceInvitation.objects.filter(user_id=user.pk).select_related("workspace", "invited_by").order_by("pk")
    )


def _own_invitation(user: User, invitation_id: uuid.UUID) -> WorkspaceInvitation:
    invitation = (
        WorkspaceInvitation.objects.select_related("workspace").filter(pk=invitation_id, user_id=user.pk).first()
    )
    if invitation is None:
        raise MembershipError(_("That invitation is no longer open."))
    return invitation


def accept(user: User, invitation_id: uuid.UUID) -> WorkspaceMember:
    """Join the workspace in the invited role; the invitation is used up."""
    invitation = _own_invitation(user, invitation_id)
    workspace = invitation.workspace
    with transaction.atomic():
        lock_workspace(workspace)
        if not WorkspaceInvitation.objects.filter(pk=invitation.pk).delete()[0]:
            raise MembershipError(_("That invitation is no longer open."))
        existing = WorkspaceMember.objects.filter(workspace=workspace, user_id=user.pk).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return WorkspaceMember.objects.create(workspace=workspace, user=user, role=invitation.role)
        except IntegrityError:
            return WorkspaceMember.objects.get(workspace=workspace, user_id=user.pk)


def decline(user: User, invitation_id: uuid.UUID) -> WorkspaceInvitation:
    invitation = _own_invitation(user, invitation_id)
    invitation.delete()
    return invitation


def cancel(actor: User, workspace: Workspace, invitation_id: uuid.UUID) -> WorkspaceInvitation:
    with transaction.atomic():
        lock_workspace(workspace)
        actor_role = manager_role(actor, workspace)
        invitation = WorkspaceInvitation.objects.filter(workspace=workspace, pk=invitation_id).first()
        if invitation is None:
            raise MembershipError(_("That invitation is no longer open."))
        check_owner_rule(actor_role, invitation.role)
        invitation.delete()
        return invitation


def leave(user: User, workspace: Workspace) -> None:
    """The member leaves; the last owner may not (the workspace would have nobody to run it)."""
    with transaction.atomic():
        lock_workspace(workspace)
        member = WorkspaceMember.objects.filter(workspace=workspace, user_id=user.pk).first()
        if member is None:
            raise MembershipError(_("You are not a member of %(name)s.") % {"name": workspace.name})
        if member.role == Role.OWNER and owner_count(workspace) <= 1:
            raise MembershipError(
                _("A workspace needs at least one owner. Make someone else an owner before you leave.")
            )
        member.delete()
        WorkspacePermission.objects.filter(workspace=workspace, user_id=user.pk).delete()
