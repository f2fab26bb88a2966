"""The built-in outbox: with no mail server configured (EMAIL_URL unset), e-mail is kept, not delivered.

`OutboxBackend` is a Django e-mail backend, selected in settings when
EMAIL_URL is unset, so the e-mail tool's send path is the same whatever
delivers the mail. Each message is written as a standard .eml file (RFC
5322, what any mail program opens) under `settings.OUTBOX_DIR`, named after
its Message-ID: the e-mail tool derives the Message-ID from the step, so a
step that runs again replaces its file instead of adding a second one.

Which workspace a message belongs to is known from the run that sent it
(the `email.send` step's output names the Message-ID): the Outbox page
(`orchestration.outbox`) lists a workspace's messages from its own runs,
so no workspace can open another's mail.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage as ParsedMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

__all__ = ["NOT_DELIVERED", "OUTBOX_BACKEND", "OutboxBackend", "outbox_file", "outbox_in_use", "read_outbox_file"]

OUTBOX_BACKEND = "tools.integrations.email.outbox.OutboxBackend"
NOT_DELIVERED = (
    "No mail server is configured (EMAIL_URL is unset): the message was kept in the workspace's outbox "
    "and was NOT delivered to anyone."
)


def outbox_in_use() -> bool:
    return str(settings.EMAIL_BACKEND) == OUTBOX_BACKEND


def outbox_name(message_id: str) -> str:
    """The file name of the message with this Message-ID: safe on any file system, the same every time."""
    return hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()[:40] + ".eml"


def outbox_file(message_id: str) -> Path:
    return Path(settings.OUTBOX_DIR) / outbox_name(message_id)


def read_outbox_file(path: Path) -> ParsedMessage:
    with path.open("rb") as handle:
        parsed = BytesParser(policy=policy.default).parse(handle)
    assert isinstance(parsed, ParsedMessage)
    return parsed


class OutboxBackend(BaseEmailBackend):
    """Writes each message to the outbox folder as an .eml file instead of sending it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(settings.OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        kept = 0
        for message in email_messages:
            if not message.recipients():
                continue
            mime = message.message()
            if "Message-ID" not in mime:
                mime["Message-ID"] = make_msgid(domain="orchestrate")
            path = outbox_file(str(mime["Message-ID"]))
            # Written whole or not at all: a reader never sees half a message.
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".writing-", suffix=".eml")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(mime.as_bytes())  # Django's messages use \n line ends
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                if not self.fail_silently:
                    raise
                continue
            kept += 1
        return kept
