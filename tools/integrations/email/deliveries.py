"""The durable record of an e-mail a step sends: what makes `email.send` exactly-once across a crash.

A message is handed to the mail server in three recorded phases, each
committed before the next begins (the tool runs in autocommit):

1. `prepared`: the intent (Message-ID, recipients, subject) is stored before
   any connection is opened. A worker that dies here sent nothing; the
   resumed step sends.
2. `sending`: stored the instant before the message itself is handed over
   (for SMTP, just before the DATA command; for any other Django backend,
   just before `send_messages`). From here the mail server may have the
   message even if we never hear back.
3. `sent`: stored the instant the server accepted it (for SMTP, on the 250
   reply to DATA, before QUIT).

A resumed step that finds `sent` returns the first attempt's output and
sends nothing. One that finds `sending` does not send again either: the
worker died within the hand-over itself (a few milliseconds for SMTP), the
server may well hold the message, and a second copy is the failure people
notice. Its output says `"delivery": "unconfirmed"` so a person can check.
A definite refusal (a 4xx/5xx reply to DATA, the connection refused) puts
the row back to `prepared`, so a retry sends.

The record is keyed by the workspace and a hash of the step's idempotency
key, and lives in the database, not the workspace drive: members can write
drive files, so a marker there could be forged to suppress a mail.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db.models import F
from django.utils import timezone

from tools.models import DeliveryStatus, EmailDelivery


def delivery_key(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


def _execution_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # a tool called outside a run (tests, the command line)


class DeliveryRecord:
    """One step's e-mail: its recorded phase, and the moves between phases."""

    def __init__(self, row: EmailDelivery) -> None:
        self.row = row

    @classmethod
    def find(cls, workspace_id: str, idempotency_key: str) -> DeliveryRecord | None:
        row = EmailDelivery.objects.filter(workspace_id=workspace_id, key=delivery_key(idempotency_key)).first()
        return cls(row) if row is not None else None

    @classmethod
    def prepare(
        cls,
        *,
        workspace_id: str,
        execution_id: str,
        step_number: int,
        idempotency_key: str,
        message_id: str,
        intended: dict[str, Any],
    ) -> DeliveryRecord:
        """Store the intent before anything leaves (phase 1); the existing row when a retry prepares again."""
        row, created = EmailDelivery.objects.get_or_create(
            workspace_id=workspace_id,
            key=delivery_key(idempotency_key),
            defaults={
                "message_id": message_id,
                "execution_id": _execution_id(execution_id),
                "step_number": step_number,
                "output": intended,
            },
        )
        if not created and row.status == DeliveryStatus.PREPARED:
            EmailDelivery.objects.filter(pk=row.pk, status=DeliveryStatus.PREPARED).update(output=intended)
            row.output = intended
        return cls(row)

    @property
    def status(self) -> str:
        return self.row.status

    def handing_over(self) -> None:
        """Phase 2: the message is about to leave; from here on a crash leaves the outcome unknown."""
        EmailDelivery.objects.filter(pk=self.row.pk).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
        self.row.status = DeliveryStatus.SENDING

    def accepted(self, output: dict[str, Any] | None = None) -> None:
        """Phase 3: the server took the message."""
        now = timezone.now()
        changes: dict[str, Any] = {"status": DeliveryStatus.SENT, "sent_at": now, "updated_at": now}
        if output is not None:
            changes["output"] = output
            self.row.output = output
        EmailDelivery.objects.filter(pk=self.row.pk).update(**changes)
        self.row.status = DeliveryStatus.SENT

    def refused(self) -> None:
        """The server definitely did not take the message: a retry may send it."""
        EmailDelivery.objects.filter(pk=self.row.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PREPARED, updated_at=timezone.now()
        )
        self.row.status = DeliveryStatus.PREPARED

    def previous_output(self) -> dict[str, Any]:
        """What a resumed step reports: the first attempt's output, flagged as not sent again."""
        output = dict(self.row.output or {})
        output.setdefault("message_id", self.row.message_id)
        output["already_sent"] = True
        if self.row.status != DeliveryStatus.SENT:
            output["delivery"] = "unconfirmed"
        return output
