"""`email.send`: e-mail people outside the system, with drive files attached.

The mail goes out through Django's e-mail API, so the backend, host, login
and TLS are whatever settings say (EMAIL_URL); nothing here talks SMTP
itself. Sending is the one side effect that cannot be undone, so:

- It is critical: a person approves every call, shown who gets what.
- It is exactly-once per step: the Message-ID comes from the call's
  idempotency key, and the hand-over is recorded in the database before,
  during and after it (`tools/integrations/email/deliveries.py`). A resumed step finds the
  record and returns the first result with "already_sent": true instead of
  sending again, whichever Django e-mail backend is configured.
- Everything that can fail before sending (addresses, missing attachments,
  size) is checked first, so a bad input sends nothing.
- Attachments are part of what the person approves: their bytes are frozen
  when approval is asked, and an approved call attaches exactly those bytes
  (`call.approved_files`), never whatever the drive file holds by then.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mimetypes
import posixpath
import smtplib
from collections.abc import Callable
from email import encoders
from email.mime.base import MIMEBase
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email

from tools import bidi
from tools.base import RetryableToolError, Stage, Tool, ToolCall, ToolError, ToolInputError, ToolResult
from tools.drive import WorkspaceDrive, clean_name
from tools.frozen import read_frozen
from tools.integrations.drive.tool import drive_errors
from tools.integrations.email.deliveries import DeliveryRecord
from tools.integrations.email.outbox import NOT_DELIVERED, outbox_in_use
from tools.models import DeliveryStatus

logger = logging.getLogger(__name__)

MAX_RECIPIENTS = 50  # to and cc together: beyond this it is a mailing, not a message
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # in total; most mail servers refuse messages over ~25 MB
MESSAGE_ID_DOMAIN = "orchestrate"

ADDRESS_LIST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "format": "email", "minLength": 3, "maxLength": 254},
    "maxItems": MAX_RECIPIENTS,
}
# A drive file: its name, an object with "name" (a drive.search / drive.list entry) or with
# "path" (a report.compose or drive.write output).
ATTACHMENT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]},
        {"type": "object", "properties": {"path": {"type": "string", "minLength": 1}}, "required": ["path"]},
    ]
}


def message_hash(idempotency_key: str) -> str:
    """The step's identity in the Message-ID and the sent marker: the same on every attempt."""
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def message_id(idempotency_key: str) -> str:
    return f"<{message_hash(idempotency_key)}@{MESSAGE_ID_DOMAIN}>"


def clean_addresses(addresses: Any, field: str) -> list[str]:
    """Stripped, validated addresses without duplicates; ToolInputError names the bad one."""
    if addresses is None:
        return []
    if not isinstance(addresses, list):
        raise ToolInputError(f"{field!r} must be a list of e-mail addresses.")
    cleaned: list[str] = []
    for address in addresses:
        if not isinstance(address, str):
            raise ToolInputError(f"Not an e-mail address in {field!r}: {address!r}")
        address = address.strip()
        try:
            validate_email(address)
        except ValidationError:
            raise ToolInputError(f"Not a valid e-mail address in {field!r}: {address!r}") from None
        if address.lower() not in {seen.lower() for seen in cleaned}:
            cleaned.append(address)
    return cleaned


def recipients(tool_input: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(to, cc), validated; an address already in "to" is dropped from "cc"."""
    to = clean_addresses(tool_input.get("to"), "to")
    if not to:
        raise ToolInputError("At least one recipient is needed in 'to'.")
    cc = [address for address in clean_addresses(tool_input.get("cc"), "cc") if address.lower() not in _lower(to)]
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise ToolInputError(f"Too many recipients: {len(to) + len(cc)} (at most {MAX_RECIPIENTS}).")
    return to, cc


def _lower(addresses: list[str]) -> set[str]:
    return {address.lower() for address in addresses}


def attachment_names(refs: Any) -> list[str]:
    """Clean drive names from attachment references, in order and without duplicates."""
    if refs is None:
        return []
    if not isinstance(refs, list):
        refs = [refs]
    names: list[str] = []
    for ref in refs:
        name = (ref.get("name") or ref.get("path")) if isinstance(ref, dict) else ref
        if not isinstance(name, str):
            raise ToolInputError(f"Not a drive file to attach: {ref!r}")
        with drive_errors():
            name = clean_name(name)
        if name not in names:
            names.append(name)
    if len(names) > MAX_ATTACHMENTS:
        raise ToolInputError(f"Too many attachments: {len(names)} (at most {MAX_ATTACHMENTS}).")
    return names


def read_attachments(
    drive: WorkspaceDrive, names: list[str], approved: dict[str, str] | None = None, *, workspace_id: str = ""
) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, MIME type) for each attachment; all are read before anything is sent.

    With `approved` (name -> SHA-256, from a person's approval) the bytes are
    the frozen copies the person approved; a file they did not approve is refused.
    """
    if approved is not None:
        unapproved = [name for name in names if name not in approved]
        if unapproved:
            raise ToolError(f"Attachment not approved: {', '.join(unapproved)}. Nothing was sent.")
    else:
        missing = [name for name in names if not drive.exists(name)]
        if missing:
            raise ToolInputError(f"Attachment not found in the drive: {', '.join(missing)}. Nothing was sent.")
    files: list[tuple[str, bytes, str]] = []
    total = 0
    for name in names:
        if approved is not None:
            data = read_frozen(workspace_id, approved[name])
        else:
            with drive_errors():
                data = drive.read_bytes(name)
        total += len(data)
        if total > MAX_ATTACHMENT_BYTES:
            megabytes = MAX_ATTACHMENT_BYTES // (1024 * 1024)
            raise ToolInputError(f"The attachments are larger than {megabytes} MB in total (at {name!r}).")
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append((posixpath.basename(name), data, mimetype))
    return files


def attachment_part(filename: str, data: bytes, mimetype: str) -> MIMEBase:
    """A base64 MIME part: the recipient gets the drive file's exact bytes.

    Django would send text files as text, which SMTP turns into CRLF lines;
    base64 keeps a CSV or a report byte for byte as it is in the drive.
    """
    maintype, subtype = mimetype.split("/", 1)
    part = MIMEBase(maintype, subtype)
    part.set_payload(data)
    encoders.encode_base64(part)
    if maintype == "text" and _is_utf8(data):
        part.set_param("charset", "utf-8")
    name: str | tuple[str, str, str] = filename if filename.isascii() else ("utf-8", "", filename)
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _watch_hand_over(connection: BaseEmailBackend, refused: dict[str, str], record: DeliveryRecord) -> bool:
    """Record the SMTP hand-over at the wire: `sending` just before DATA, `sent` on its 250 reply.

    Also keeps the recipients the server refused while accepting the message
    for others: smtplib reports them in sendmail()'s return value, which
    Django's backend drops; without this a partly delivered message would
    look fully sent. False for a backend that is not SMTP (the caller then
    records around the whole send).
    """
    smtp = getattr(connection, "connection", None)
    if not isinstance(smtp, smtplib.SMTP):
        return False
    sendmail: Callable[..., dict[str, tuple[int, bytes]]] = smtp.sendmail
    data: Callable[[Any], tuple[int, bytes]] = smtp.data

    def recording_data(msg: Any) -> tuple[int, bytes]:
        record.handing_over()
        code, reply = data(msg)
        if code == 250:
            record.accepted()
        else:
            record.refused()
        return code, reply

    def recording_sendmail(*args: Any, **kwargs: Any) -> dict[str, tuple[int, bytes]]:
        result = sendmail(*args, **kwargs)
        refused.update({address: _reply(code, text) for address, (code, text) in result.items()})
        return result

    smtp.data = recording_data  # type: ignore[method-assign]
    smtp.sendmail = recording_sendmail  # type: ignore[method-assign]
    return True


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {message}".strip()


def deliver(message: EmailMessage, timeout: float, record: DeliveryRecord) -> dict[str, str]:
    """Send one message, recording the hand-over; the recipients refused while others got it.

    Errors per the tool contract. An error raised before the hand-over began
    leaves the record `prepared`, so the retry sends; one raised during it
    leaves it `sending`, so the retry does not.
    """
    connection = get_connection(timeout=timeout)
    refused: dict[str, str] = {}
    try:
        connection.open()
        recorded_at_the_wire = _watch_hand_over(connection, refused, record)
        if not recorded_at_the_wire:
            record.handing_over()
        sent = connection.send_messages([message])
        if not recorded_at_the_wire and sent:
            record.accepted()
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused: nothing was delivered
        replies = {address: _reply(code, text) for address, (code, text) in exc.recipients.items()}
        detail = "; ".join(f"{address}: {reply}" for address, reply in replies.items())
        if all(400 <= code < 500 for code, _ in exc.recipients.values()):
            raise RetryableToolError(f"The mail server deferred the recipients ({detail}).") from None
        raise ToolError(f"The mail server refused the recipients ({detail}).") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
        raise RetryableToolError(f"Could not talk to the mail server: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            raise RetryableToolError(f"The mail server is temporarily refusing mail: {reply}") from None
        raise ToolError(f"The mail server refused the message: {reply}") from None
    except smtplib.SMTPException as exc:  # e.g. STARTTLS or AUTH not supported: a configuration problem
        raise ToolError(f"Could not send the e-mail: {exc}") from None
    except OSError as exc:  # connection refused, timeout, DNS failure, TLS handshake
        raise RetryableToolError(f"Could not reach the mail server: {exc or type(exc).__name__}") from None
    finally:
        # A failure to say goodbye after the server took the message must not turn into a retry (a resend).
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()
    if not sent:
        record.refused()
        raise ToolError("The e-mail backend did not send the message.")
    return refused


class EmailSend(Tool):
    name = "email.send"
    description = (
        "Send an e-mail (subject and plain-text body) to up to 50 people, optionally with cc and with files "
        "from the drive attached (names, drive.search files, or a report.compose output). Needs approval."
    )
    stage = Stage.SINK
    capabilities = ("email.send",)
    critical = True
    side_effects = True
    rate_limit = ("smtp", "send")
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "to": {**ADDRESS_LIST_SCHEMA, "minItems": 1, "description": "Recipient addresses."},
            "cc": {**ADDRESS_LIST_SCHEMA, "description": "Addresses to copy."},
            "subject": {"type": "string", "minLength": 1, "maxLength": 998, "pattern": "^[^\\r\\n]*$"},
            "body": {"type": "string", "description": "The plain-text message."},
            "attachments": {
                "type": "array",
                "items": ATTACHMENT_SCHEMA,
                "maxItems": MAX_ATTACHMENTS,
                "description": "Drive files to attach: names, or objects with 'name' or 'path'.",
            },
        },
        "required": ["to", "subject", "body"],
        "additionalProperties": False,
    }

    def approval_reason(self, tool_input: dict[str, Any]) -> str | None:
        count = len(_listed(tool_input.get("to"))) + len(_listed(tool_input.get("cc")))
        return f"Sends e-mail to {count} recipient(s) outside the system"

    def referenced_files(self, tool_input: dict[str, Any]) -> list[str]:
        return attachment_names(tool_input.get("attachments"))

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        # Shown before validation may have run, so it describes the input as given rather than failing.
        people = [*_listed(tool_input.get("to")), *_listed(tool_input.get("cc"))]
        try:
            attachments = attachment_names(tool_input.get("attachments"))
        except ToolInputError:
            attachments = [str(ref) for ref in _listed(tool_input.get("attachments"))]
        return {
            "action": "send e-mail",
            "recipients": people,
            "recipient_count": len(people),
            "subject": tool_input.get("subject", ""),
            "attachments": attachments,
            "attachment_count": len(attachments),
        }

    def run(self, call: ToolCall) -> ToolResult:
        previous = DeliveryRecord.find(call.workspace_id, call.idempotency_key)
        if previous is not None and previous.status != DeliveryStatus.PREPARED:
            earlier = previous.previous_output()
            if earlier.get("delivery") == "unconfirmed":
                logger.warning(
                    "E-mail %s: the worker died while handing it over; not sent again", previous.row.message_id
                )
            return ToolResult(output=earlier, summary=f"Already e-mailed {_summary(earlier)}; not sent again")

        to, cc = recipients(call.input)
        subject = call.input["subject"]
        names = attachment_names(call.input.get("attachments"))
        files = read_attachments(call.drive, names, call.approved_files, workspace_id=call.workspace_id)
        # Right-to-left text is marked in the plain body and sent with an HTML part too (tools/bidi.py).
        message = EmailMultiAlternatives(
            subject=subject,
            body=bidi.mark_plain(call.input["body"]),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=to,
            cc=cc,
            headers={"Message-ID": message_id(call.idempotency_key)},
        )
        if bidi.has_rtl(call.input["body"]):
            message.attach_alternative(bidi.html_body(call.input["body"]), "text/html")
        for filename, data, mimetype in files:
            message.attach(attachment_part(filename, data, mimetype))
        try:
            message.message()  # builds the MIME message: header injection surfaces here, before connecting
        except BadHeaderError as exc:
            raise ToolInputError(str(exc)) from None

        output: dict[str, Any] = {
            "message_id": message_id(call.idempotency_key),
            "to": to,
            "cc": cc,
            "subject": subject,
            "attachments": names,
            "already_sent": False,
        }
        record = DeliveryRecord.prepare(
            workspace_id=call.workspace_id,
            execution_id=call.execution_id,
            step_number=call.step_number,
            idempotency_key=call.idempotency_key,
            message_id=output["message_id"],
            intended=output,
        )
        timeout = min(settings.EMAIL_TIMEOUT, call.seconds_left(settings.EMAIL_TIMEOUT))
        refused = deliver(message, timeout=timeout, record=record)
        if refused:
            output["refused"] = refused
        if outbox_in_use():  # the built-in outbox: say plainly that nobody got it
            output.update(delivered=False, note=NOT_DELIVERED)
        record.accepted(output)
        summary = f"E-mailed {_summary(output)}"
        if outbox_in_use():
            summary = f"Kept in the outbox, NOT delivered (no mail server is configured): {_summary(output)}"
        if refused:
            summary += f" ({len(refused)} refused by the mail server: {', '.join(refused)})"
        return ToolResult(output=output, summary=summary)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _summary(output: dict[str, Any]) -> str:
    count = len(output.get("to", [])) + len(output.get("cc", []))
    return f"{output.get('subject', '')!r} to {count} recipient{'s' if count != 1 else ''}"
