from __future__ import annotations

import json
import socket

import jsonschema
import pytest
from django.core import mail

from tests.support import tool_call
from tools.base import RetryableToolError, ToolError, ToolInputError
from tools.drive import WorkspaceDrive
from tools.integrations.email.deliveries import DeliveryRecord
from tools.integrations.email.tool import EmailSend, message_hash, message_id
from tools.models import DeliveryStatus

HOST = "127.0.0.1"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x02\x03binary\x00\xff"


@pytest.fixture
def drive(settings, tmp_path, workspace_a):
    settings.MEDIA_ROOT = tmp_path
    settings.DEFAULT_FROM_EMAIL = "orchestrate@example.com"
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("reports/q1.md", "# Q1\n\nRevenue rose.\n")
    drive.write_text("data/jan.csv", "region,revenue\nNorth,1200\n")
    drive.write_bytes("chart.png", PNG)
    drive.write_text("notes/résumé.txt", "Zoë's notes\n")
    return drive


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def send(tool_input, workspace, *, step_number=1):
    """Validate as the engine does, then run the tool for one step."""
    tool = EmailSend()
    jsonschema.validate(tool_input, tool.input_schema, cls=jsonschema.Draft202012Validator)
    return tool.run(tool_call(tool_input, workspace.pk, step_number=step_number))


def delivery_status(workspace, key="e:1"):
    """The recorded phase of the step's e-mail, or None when nothing was prepared."""
    record = DeliveryRecord.find(str(workspace.pk), key)
    return record.status if record else None


def message_input(**changes):
    return {"to": ["alice@example.com"], "subject": "Q1 review", "body": "See attached.", **changes}


def test_it_sends_a_message_with_drive_attachments(smtp_server, drive, workspace_a):
    result = send(
        message_input(
            to=["alice@example.com", "bob@example.com"],
            cc=["carol@example.com"],
            body="Hello,\n\nthe Q1 figures are attached.\n",
            attachments=[
                {"path": "reports/q1.md", "bytes": 20, "preview": "# Q1"},  # a report.compose output
                {"name": "data/jan.csv", "size": 26, "modified_at": None},  # a drive.search entry
                "chart.png",
                "notes/résumé.txt",
            ],
        ),
        workspace_a,
    )

    [received] = smtp_server.wait_for_messages(1)
    message = received.message
    assert received.mail_from == "orchestrate@example.com"
    assert received.rcpt_tos == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert message["From"] == "orchestrate@example.com"
    assert message["To"] == "alice@example.com, bob@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Subject"] == "Q1 review"
    assert message["Message-ID"] == message_id("e:1")
    body = message.get_body(("plain",)).get_content()
    assert body.replace("\r\n", "\n") == "Hello,\n\nthe Q1 figures are attached.\n"
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert sorted(attachments) == ["chart.png", "jan.csv", "q1.md", "résumé.txt"]
    assert attachments["chart.png"].get_content_type() == "image/png"
    assert attachments["chart.png"].get_content() == PNG
    assert attachments["jan.csv"].get_content_type() == "text/csv"
    assert attachments["jan.csv"].get_content() == "region,revenue\nNorth,1200\n"  # exact bytes: no CRLF added
    assert attachments["q1.md"].get_payload(decode=True) == b"# Q1\n\nRevenue rose.\n"
    assert attachments["résumé.txt"].get_content() == "Zoë's notes\n"

    assert result.output == {
        "message_id": message_id("e:1"),
        "to": ["alice@example.com", "bob@example.com"],
        "cc": ["carol@example.com"],
        "subject": "Q1 review",
        "attachments": ["reports/q1.md", "data/jan.csv", "chart.png", "notes/résumé.txt"],
        "already_sent": False,
    }
    assert result.summary == "E-mailed 'Q1 review' to 3 recipients"
    assert delivery_status(workspace_a) == DeliveryStatus.SENT


def test_it_sends_a_hebrew_body_marked_right_to_left_with_an_html_part(smtp_server, drive, workspace_a):
    body = "שלום,\n\nהדוח מצורף: reports/q1.md\nשאלות ל-bob@example.com\n"
    send(message_input(subject="סיכום המכירות", body=body), workspace_a)

    [received] = smtp_server.wait_for_messages(1)
    message = received.message
    assert message["Subject"] == "סיכום המכירות"
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain.startswith("\u200fשלום,\n\n\u200fהדוח מצורף: \u2066reports/q1.md\u2069\n")
    assert "\u200fשאלות ל-\u2066bob@example.com\u2069" in plain
    html = message.get_body(("html",)).get_content()
    assert '<div dir="rtl">' in html
    assert '<p dir="rtl">שלום,</p>' in html
    assert '<bdi dir="ltr">reports/q1.md</bdi>' in html


def test_it_sends_an_english_body_as_plain_text_alone(smtp_server, drive, workspace_a):
    send(message_input(body="Hello,\n\nthe figures are attached.\n"), workspace_a)

    [received] = smtp_server.wait_for_messages(1)
    assert received.message.get_body(("html",)) is None
    assert received.message.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        "Hello,\n\nthe figures are attached.\n"
    )


def test_it_sends_once_for_the_same_idempotency_key(smtp_server, drive, workspace_a):
    first = send(message_input(attachments=["chart.png"]), workspace_a)
    drive.delete("chart.png")  # a resumed step must not need the attachment again

    second = send(message_input(attachments=["chart.png"]), workspace_a)

    assert len(smtp_server.wait_for_messages(1)) == 1
    assert first.output["already_sent"] is False
    assert second.output == {**first.output, "already_sent": True}
    assert "not sent again" in second.summary


def test_it_ignores_a_sent_marker_forged_in_the_drive(smtp_server, drive, workspace_a):
    """Members write drive files: a file named like the old sent-marker must not suppress a mail."""
    forged = {"message_id": message_id("e:1"), "to": ["alice@example.com"], "subject": "Q1 review"}
    drive.write_text(f".orchestrate/sent/{message_hash('e:1')}.json", json.dumps(forged))

    result = send(message_input(), workspace_a)

    assert len(smtp_server.wait_for_messages(1)) == 1
    assert result.output["already_sent"] is False


def test_it_keeps_each_workspaces_record_apart(smtp_server, drive, workspace_a, workspace_b):
    send(message_input(), workspace_a)
    send(message_input(), workspace_b)  # the same step key in another tenant is another message

    assert len(smtp_server.wait_for_messages(2)) == 2


def test_it_sends_again_after_the_server_refused_the_message(smtp_server, drive, workspace_a):
    smtp_server.reject_data(451, "Try again later")
    with pytest.raises(RetryableToolError):
        send(message_input(), workspace_a)
    assert delivery_status(workspace_a) == DeliveryStatus.PREPARED  # definitely not taken: the retry sends

    smtp_server.accept_data()
    result = send(message_input(), workspace_a)

    assert len(smtp_server.wait_for_messages(1)) == 1
    assert result.output["already_sent"] is False
    assert delivery_status(workspace_a) == DeliveryStatus.SENT


def test_it_does_not_send_again_when_the_hand_over_was_cut_off(smtp_server, drive, workspace_a):
    """A worker that died between handing the message over and hearing back: the server may have it."""
    record = DeliveryRecord.prepare(
        workspace_id=str(workspace_a.pk),
        execution_id="e",
        step_number=1,
        idempotency_key="e:1",
        message_id=message_id("e:1"),
        intended={"message_id": message_id("e:1"), "to": ["alice@example.com"], "subject": "Q1 review"},
    )
    record.handing_over()

    result = send(message_input(), workspace_a)

    assert smtp_server.messages == []
    assert result.output["already_sent"] is True
    assert result.output["delivery"] == "unconfirmed"


def test_it_records_the_hand_over_with_any_backend(drive, workspace_a):
    first = send(message_input(), workspace_a)  # pytest-django's locmem backend
    second = send(message_input(), workspace_a)

    assert len(mail.outbox) == 1
    assert delivery_status(workspace_a) == DeliveryStatus.SENT
    assert second.output == {**first.output, "already_sent": True}


def test_it_sends_again_for_another_step(smtp_server, drive, workspace_a):
    send(message_input(), workspace_a, step_number=1)
    send(message_input(), workspace_a, step_number=2)

    first, second = smtp_server.wait_for_messages(2)
    assert first.message["Message-ID"] != second.message["Message-ID"]


def test_it_sends_nothing_when_an_attachment_is_missing(smtp_server, drive, workspace_a):
    with pytest.raises(ToolInputError, match=r"not found in the drive: reports/missing\.pdf\. Nothing was sent"):
        send(message_input(attachments=["chart.png", "reports/missing.pdf"]), workspace_a)

    assert smtp_server.messages == []
    assert delivery_status(workspace_a) != DeliveryStatus.SENT


@pytest.mark.parametrize(
    ("field", "addresses", "bad"),
    [
        ("to", ["alice@example.com", "not-an-address"], "not-an-address"),
        ("to", ["alice@@example.com"], "alice@@example.com"),
        ("cc", ["bob@example"], "bob@example"),
    ],
)
def test_it_rejects_a_bad_address_clearly(smtp_server, drive, workspace_a, field, addresses, bad):
    with pytest.raises(ToolInputError) as caught:
        send(message_input(**{field: addresses}), workspace_a)

    assert str(caught.value) == f"Not a valid e-mail address in {field!r}: {bad!r}"
    assert smtp_server.messages == []


def test_it_retries_when_the_server_is_down(smtp_server, drive, workspace_a):
    smtp_server.stop()

    with pytest.raises(RetryableToolError, match="Could not reach the mail server"):
        send(message_input(), workspace_a)

    assert delivery_status(workspace_a) != DeliveryStatus.SENT


def test_it_retries_when_nothing_listens_on_the_port(settings, drive, workspace_a):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = HOST, free_port()

    with pytest.raises(RetryableToolError):
        send(message_input(), workspace_a)


def test_it_retries_when_the_server_does_not_answer(settings, drive, workspace_a):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = 1
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind((HOST, 0))
        silent.listen()
        settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()

        with pytest.raises(RetryableToolError):
            send(message_input(), workspace_a)


def test_it_fails_with_the_servers_message_when_recipients_are_refused(smtp_server, drive, workspace_a):
    smtp_server.refuse("alice@example.com", 550, "5.1.1 No such user here")

    with pytest.raises(ToolError, match="No such user here") as caught:
        send(message_input(), workspace_a)

    assert not isinstance(caught.value, RetryableToolError)
    assert "alice@example.com: 550 5.1.1 No such user here" in str(caught.value)
    assert smtp_server.messages == []
    assert delivery_status(workspace_a) != DeliveryStatus.SENT


def test_it_retries_when_recipients_are_deferred(smtp_server, drive, workspace_a):
    smtp_server.refuse("alice@example.com", 450, "4.2.1 Mailbox busy, try later")

    with pytest.raises(RetryableToolError, match="Mailbox busy"):
        send(message_input(), workspace_a)


def test_it_reports_recipients_refused_while_others_got_it(smtp_server, drive, workspace_a):
    smtp_server.refuse("ghost@example.com")

    result = send(message_input(to=["alice@example.com", "ghost@example.com"]), workspace_a)

    [received] = smtp_server.wait_for_messages(1)
    assert received.rcpt_tos == ["alice@example.com"]
    assert result.output["refused"] == {"ghost@example.com": "550 No such user here"}
    assert "1 refused by the mail server: ghost@example.com" in result.summary
    assert delivery_status(workspace_a) == DeliveryStatus.SENT  # it went out: a retry must not send it again


@pytest.mark.parametrize(("code", "error"), [(451, RetryableToolError), (554, ToolError)])
def test_it_maps_a_rejected_message_by_reply_code(smtp_server, drive, workspace_a, code, error):
    smtp_server.reject_data(code, "Message rejected by policy")

    with pytest.raises(error, match=f"{code} Message rejected by policy") as caught:
        send(message_input(), workspace_a)

    assert isinstance(caught.value, RetryableToolError) == (code < 500)


def test_it_sends_through_the_backend_settings_name(drive, workspace_a):
    send(message_input(cc=["bob@example.com"]), workspace_a)  # pytest-django's locmem backend

    [sent] = mail.outbox
    assert sent.to == ["alice@example.com"]
    assert sent.cc == ["bob@example.com"]
    assert sent.extra_headers["Message-ID"] == message_id("e:1")


def test_it_asks_for_approval_with_the_impact():
    tool = EmailSend()
    tool_input = message_input(
        to=["alice@example.com", "bob@example.com"],
        cc=["carol@example.com"],
        attachments=[{"path": "reports/q1.md"}, "chart.png"],
    )

    assert tool.critical
    assert tool.approval_reason(tool_input) == "Sends e-mail to 3 recipient(s) outside the system"
    assert tool.approval_reason(message_input()) == "Sends e-mail to 1 recipient(s) outside the system"
    assert tool.estimate_impact(tool_input) == {
        "action": "send e-mail",
        "recipients": ["alice@example.com", "bob@example.com", "carol@example.com"],
        "recipient_count": 3,
        "subject": "Q1 review",
        "attachments": ["reports/q1.md", "chart.png"],
        "attachment_count": 2,
    }


def test_it_describes_itself_as_a_rate_limited_critical_sink():
    described = EmailSend.describe()

    assert described["name"] == "email.send"
    assert described["stage"] == "sink"
    assert described["capabilities"] == ["email.send"]
    assert described["critical"] is True
    assert described["side_effects"] is True
    assert described["rate_limit"] == ["smtp", "send"]


@pytest.mark.parametrize(
    "bad_input",
    [
        {"subject": "s", "body": "b"},
        {"to": [], "subject": "s", "body": "b"},
        {"to": "alice@example.com", "subject": "s", "body": "b"},
        {"to": [f"p{i}@example.com" for i in range(51)], "subject": "s", "body": "b"},
        {"to": ["alice@example.com"], "body": "b"},
        {"to": ["alice@example.com"], "subject": "", "body": "b"},
        {"to": ["alice@example.com"], "subject": "s\r\nBcc: eve@example.com", "body": "b"},
        {"to": ["alice@example.com"], "subject": "s"},
        {"to": ["alice@example.com"], "subject": "s", "body": "b", "attachments": [{"size": 3}]},
        {"to": ["alice@example.com"], "subject": "s", "body": "b", "attachments": [""]},
        {"to": ["alice@example.com"], "subject": "s", "body": "b", "attachments": "chart.png"},
        {"to": ["alice@example.com"], "subject": "s", "body": "b", "bcc": ["eve@example.com"]},
    ],
)
def test_it_rejects_bad_input_shapes(bad_input):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_input, EmailSend.input_schema, cls=jsonschema.Draft202012Validator)


def test_it_accepts_the_documented_input_shapes():
    jsonschema.Draft202012Validator.check_schema(EmailSend.input_schema)
    jsonschema.validate(
        message_input(
            cc=["carol@example.com"],
            attachments=["a.csv", {"name": "b.csv", "size": 3}, {"path": "reports/r.md", "bytes": 9}],
        ),
        EmailSend.input_schema,
        cls=jsonschema.Draft202012Validator,
    )


def test_it_refuses_header_injection_even_without_the_schema(drive, workspace_a):
    call = tool_call(message_input(subject="Hi\nBcc: eve@example.com"), workspace_a.pk)

    with pytest.raises(ToolInputError, match="Header values can't contain newlines"):
        EmailSend().run(call)

    assert mail.outbox == []
