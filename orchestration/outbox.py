"""A workspace's outbox: the e-mail its runs kept instead of delivering (see `tools.integrations.email.outbox`).

Messages are found through the workspace's own `email.send` steps (their
output names the Message-ID, and so the file), never by listing the folder:
a workspace sees exactly the mail its runs wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage as ParsedMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from orchestration.engine.outputs import load_output
from orchestration.models import ExecutionStep, StepStatus
from tenancy.models import Workspace
from tools.integrations.email.outbox import outbox_file, outbox_name, read_outbox_file

MAX_LISTED = 100
EMAIL_TOOL = "email.send"


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class OutboxMessage:
    name: str  # the .eml file's name
    execution_id: str
    step_number: int
    sent_at: datetime | None
    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)


def _addresses(message: ParsedMessage, header: str) -> list[str]:
    value = message.get(header)
    if value is None:
        return []
    return [str(address.addr_spec) for address in getattr(value, "addresses", ())]


def _body(message: ParsedMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def _attachments(message: ParsedMessage) -> list[tuple[Attachment, bytes]]:
    found: list[tuple[Attachment, bytes]] = []
    for index, part in enumerate(message.iter_attachments(), start=1):
        data = part.get_payload(decode=True) or b""
        assert isinstance(data, bytes)
        found.append(
            (Attachment(index, part.get_filename() or f"attachment-{index}", part.get_content_type(), len(data)), data)
        )
    return found


def _sent_messages(workspace: Workspace) -> list[tuple[str, str, int]]:
    """(Message-ID, execution id, step number) of the workspace's sent e-mail, newest first."""
    steps = (
        ExecutionStep.objects.filter(execution__workspace=workspace, tool=EMAIL_TOOL, status=StepStatus.SUCCEEDED)
        .order_by("-completed_at")
        .values_list("output", "execution_id", "step_number")[: MAX_LISTED * 2]
    )
    found: list[tuple[str, str, int]] = []
    for output, execution_id, step_number in steps:
        loaded: Any = load_output(output, execution_id=execution_id, step_number=step_number, workspace_id=workspace.pk)
        if isinstance(loaded, dict) and isinstance(loaded.get("message_id"), str):
            found.append((loaded["message_id"], str(execution_id), step_number))
    return found


def workspace_outbox(workspace: Workspace) -> list[OutboxMessage]:
    """The workspace's kept messages, newest first (at most MAX_LISTED)."""
    messages: list[OutboxMessage] = []
    seen: set[str] = set()
    for message_id, execution_id, step_number in _sent_messages(workspace):
        path = outbox_file(message_id)
        if path.name in seen or not path.exists():
            continue  # delivered by a mail server, not kept here
        seen.add(path.name)
        parsed = read_outbox_file(path)
        date = parsed.get("Date")
        messages.append(
            OutboxMessage(
                name=path.name,
                execution_id=execution_id,
                step_number=step_number,
                sent_at=parsedate_to_datetime(str(date)) if date else None,
                sender=str(parsed.get("From", "")),
                to=_addresses(parsed, "To"),
                cc=_addresses(parsed, "Cc"),
                subject=str(parsed.get("Subject", "")),
                body=_body(parsed),
                attachments=[attachment for attachment, _ in _attachments(parsed)],
            )
        )
        if len(messages) >= MAX_LISTED:
            break
    return messages


def outbox_path(workspace: Workspace, name: str) -> Path | None:
    """The .eml file if it is one of this workspace's messages, else None (callers answer 404)."""
    for message_id, _, _ in _sent_messages(workspace):
        if outbox_name(message_id) == name:
            path = outbox_file(message_id)
            return path if path.exists() else None
    return None


def outbox_attachment(workspace: Workspace, name: str, index: int) -> tuple[Attachment, bytes] | None:
    path = outbox_path(workspace, name)
    if path is None:
        return None
    for attachment, data in _attachments(read_outbox_file(path)):
        if attachment.index == index:
            return attachment, data
    return None
