"""The websocket layer every consumer shares: the origin check, unknown paths, per-event work."""

from __future__ import annotations

import html

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import translation

from config.routing import websocket_application
from orchestration import relay
from orchestration.consumers import render_step_frame, step_frames
from orchestration.events import RunCounts, step_event
from orchestration.models import ExecutionStatus, StepStatus
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory


def _headers(user, origin: str, host: str = "127.0.0.1:8000") -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return [(b"origin", origin.encode()), (b"host", host.encode()), (b"cookie", cookie)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.0.0.1:9000", False),  # same host, another port: another site
        ("https://127.0.0.1:8000", False),  # another scheme
        ("http://127.0.0.1", False),  # default port 80 is not 8000
        ("http://evil.example:8000", False),
        ("null", False),
    ],
)
def test_it_accepts_a_websocket_only_from_the_pages_own_origin(alice, workspace_a, origin, allowed):
    headers = _headers(alice, origin)

    async def run():
        communicator = WebsocketCommunicator(websocket_application(), "/ws/notifications/", headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected

    assert async_to_sync(run)() is allowed


@pytest.mark.django_db(transaction=True)
def test_it_closes_a_websocket_at_an_unknown_path_cleanly(alice, workspace_a):
    headers = _headers(alice, "http://127.0.0.1:8000")

    async def run():
        communicator = WebsocketCommunicator(websocket_application(), "/ws/no-such-stream/", headers=headers)
        assert (await communicator.connect(timeout=5))[0]
        output = await communicator.receive_output(timeout=5)
        await communicator.disconnect()  # ended here, not cancelled by the loop's shutdown
        return output

    assert async_to_sync(run)() == {"type": "websocket.close", "code": 4404}


@pytest.mark.django_db
def test_it_renders_a_step_event_from_the_event_alone(workspace_a, django_assert_num_queries):
    execution = ExecutionFactory(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=500)
    step = ExecutionStepFactory(
        execution=execution, step_number=7, tool="test.noop", status=StepStatus.SUCCEEDED, output={"value": "<b>"}
    )
    event = step_event(step, workspace_a.pk, RunCounts("running", current_step=7, total_steps=500, error=""))

    with django_assert_num_queries(0):
        html = render_step_frame([event], event)

    assert '<li id="step-7" class="step step-succeeded"' in html
    assert 'hx-swap-oob="true"' in html
    assert '<progress id="progress" value="7" max="500">' in html
    assert "&lt;b&gt;" in html
    assert "<b>" not in html


@pytest.mark.django_db
def test_it_renders_a_step_row_in_the_language_of_each_frame(workspace_a):
    """A row's fixed words are looked up once per language (step_rows.row_words): none leaks into another."""
    execution = ExecutionFactory(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=9)
    step = ExecutionStepFactory(execution=execution, step_number=7, tool="test.noop", status=StepStatus.SUCCEEDED)
    event = step_event(step, workspace_a.pk)

    frames = {}
    for language in ("he", "en", "he"):
        with translation.override(language):
            frames.setdefault(language, []).append(render_step_frame([event], None))

    hebrew, english = frames["he"][0], frames["en"][0]
    assert frames["he"][1] == hebrew
    assert 'aria-label="שלב 7"' in hebrew
    assert 'data-status="succeeded">הצליח</span>' in hebrew
    assert "<summary>קלט</summary>" in hebrew
    assert 'aria-label="Step 7"' in english
    assert 'data-status="succeeded">Succeeded</span>' in english
    assert "<summary>Input</summary>" in english


@pytest.mark.django_db
def test_a_frame_goes_out_in_ascii_and_reads_the_same_in_every_language(workspace_a):
    """Daphne encodes a frame once per page; in ASCII that is a copy (consumers.as_ascii)."""
    execution = ExecutionFactory(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=9)
    step = ExecutionStepFactory(execution=execution, step_number=1, tool="test.noop", status=StepStatus.RUNNING)
    event = step_event(step, workspace_a.pk)  # no duration yet, no dependency: shown as em dashes

    frames = async_to_sync(step_frames)([event], None, {"he", "en"})

    for language, frame in frames.items():
        with translation.override(language):
            rendered = render_step_frame([event], None)
        assert not rendered.isascii()
        assert frame.isascii()
        assert html.unescape(frame) == html.unescape(rendered)
    assert "&#8212;" in frames["en"]
    assert "&#1513;&#1500;&#1489; 1" in frames["he"]  # "שלב 1"


@pytest.mark.parametrize(
    ("last_frame_took", "next_waits"),
    [
        (0.0, relay.FRAME_SECONDS),  # one page: a frame every 50 ms
        (0.001, relay.FRAME_SECONDS),
        (0.03, 0.09),  # many pages: sending keeps to a quarter of the process's time
        (5.0, relay.MAX_FRAME_SECONDS),  # but a page is never more than 250 ms behind
    ],
)
def test_a_runs_next_frame_waits_three_times_as_long_as_its_last_one_took_to_send(last_frame_took, next_waits):
    assert relay.frame_delay(last_frame_took) == pytest.approx(next_waits)
