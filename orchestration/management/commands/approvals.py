from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from safety.approvals import AlreadyDecided, decide
from safety.models import ApprovalStatus, PendingApproval


class Command(BaseCommand):
    help = "List pending approvals, or approve or reject one, as a user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "approve", "reject"])
        parser.add_argument("approval_id", nargs="?", help="Id of the approval to decide on")
        parser.add_argument("--user", required=True, help="Username deciding (or listing)")
        parser.add_argument("--reason", default="", help="Why: kept with the decision and shown on the run")

    def handle(self, *args: Any, **options: Any) -> None:
        # This process decides; the process running the steps picks the run up again.
        from orchestration.engine.dispatch import handed_off_to_workers

        with handed_off_to_workers():
            self._handle(**options)

    def _handle(self, *, action: str, approval_id: str | None, user: str, reason: str, **options: Any) -> None:
        person = get_user_model().objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"No user named {user!r}.")
        visible = PendingApproval.objects.for_user(person).select_related("execution__workspace")
        if action == "list":
            for approval in visible.filter(status=ApprovalStatus.PENDING).order_by("created_at"):
                self.stdout.write(
                    f"{approval.pk}\t{approval.execution.workspace.name}\t{approval.action_type}\t{approval.reason}"
                )
                # Exactly what runs if approved (secrets redacted), as the approvals page shows it.
                self.stdout.write(f"    input: {json.dumps(approval.action_data, ensure_ascii=False, sort_keys=True)}")
                for file in approval.bound_files:
                    self.stdout.write(f"    file: {file['name']} ({file['bytes']} bytes, sha256 {file['sha256']})")
                self.stdout.write(f"    digest: {approval.input_digest}")
            return
        if not approval_id:
            raise CommandError(f"Give the id of the approval to {action}.")
        try:
            approval = visible.get(pk=uuid.UUID(approval_id))
        except (ValueError, PendingApproval.DoesNotExist):
            raise CommandError(f"No approval {approval_id} that {user} can see.") from None
        try:
            decided = decide(approval, person, approve=action == "approve", comment=reason)
        except (AlreadyDecided, PermissionDenied) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{decided.pk} {decided.status} by {user}")
