"""Live progress over websockets: the run page's stream and the executions list's stream.

Consumers are driven through the same routing and session authentication as
the server (config.routing under AuthMiddlewareStack), with the session
cookie of a logged-in test client.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from orchestration import publishing
from orchestration.engine.runs import submit
from orchestration.models import Execution, ExecutionStatus
from orchestration.publishing import publish_execution
from tenancy.models import WorkspaceMember
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.support.sockets import socket_headers, socket_stack

application = socket_stack()
CLOSED_4403 = {"type": "websocket.close", "code": 4403}


@contextlib.contextmanager
def _published_on(loop: asyncio.AbstractEventLoop):
    """Worker threads publish onto the test's loop, as they do onto the server's (see publishing.bind_server_loop)."""
    previous = publishing._server_loop
    publishing._server_loop = loop
    try:
        yield
    finally:
        publishing._server_loop = previous


async def _receive_until(communicator: WebsocketCommunicator, marker: str, timeout: float = 20) -> list[str]:
    frames: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while not frames or marker not in frames[-1]:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"no frame with {marker!r} in {len(frames)} frames"
        frames.append(str(await communicator.receive_from(timeout=remaining)))
    return frames


def _status(status: str) -> str:
    return f'<span id="execution-status" class="status status-{status}" data-status="{status}"'


@pytest.mark.usefixtures("engine")
def test_it_sends_the_current_state_then_live_fragments_as_a_run_progresses(alice, workspace_a):
    plan = {
        "steps": [
            # Long enough for the page to be connected before step 2 starts.
            {"number": 1, "tool": "test.sleep", "input": {"seconds": 1.0}},
            # Long enough for its "running" row to go out before it ends (a page gathers rows for
            # relay.FRAME_SECONDS and leaves out a state already superseded).
            {"number": 2, "tool": "test.effect", "input": {"label": "live", "seconds": 0.3}, "depends_on": [1]},
        ]
    }
    headers = socket_headers(alice)

    async def run():
        with _published_on(asyncio.get_running_loop()):
            execution = await database_sync_to_async(submit)(
                user=alice, workspace=workspace_a, request_text="Live <b>run</b>", plan=plan
            )
            communicator = WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers)
            assert (await communicator.connect())[0]
            catch_up = await communicator.receive_from(timeout=5)
            frames = await _receive_until(communicator, _status("succeeded"))
            # Fragments show the state when they are rendered, so "succeeded" may come
            # before the run's last event; that one follows and ends the stream.
            while not await communicator.receive_nothing(timeout=1):
                frames.append(await communicator.receive_from())
            await communicator.disconnect()

            again = WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers)
            assert (await again.connect())[0]
            reconnected = await again.receive_from(timeout=5)
            assert await again.receive_nothing(timeout=0.3)
            await again.disconnect()
        return catch_up, frames, reconnected

    catch_up, frames, reconnected = async_to_sync(run)()

    # The catch-up is the whole page state, every piece out of band.
    for element_id in ("execution-status", "execution-progress", "execution-actions", "steps", "messages", "logs"):
        assert f'id="{element_id}"' in catch_up
    assert catch_up.startswith('<span id="execution-status"')
    # Step changes come as rows, out of band; the run's changes as the whole state.
    step_rows = [
        frame
        for frame in frames
        if '<li id="step-2" class="step step-' in frame
        and 'data-status="running"' in frame
        and '<section id="steps"' not in frame
    ]
    assert any('hx-swap-oob="true"' in frame.split('<li id="step-2"')[1][:120] for frame in step_rows)
    assert any('<progress id="progress" value="1" max="2">' in frame for frame in frames)
    final = frames[-1]
    assert '<progress id="progress" value="2" max="2">' in final
    assert 'id="result"' in final
    assert "Run succeeded" in final  # the log lines, flushed when the run ended
    assert '<span class="badge msg-type">RESPONSE</span>' in final
    assert "<code>effect.live</code>" in final  # shared context
    assert _status("succeeded") in reconnected
    assert 'id="result"' in reconnected
    assert "<b>run</b>" not in "".join(frames)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_non_member_with_4403(charlie, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a)
    headers = socket_headers(charlie)

    async def run():
        communicator = WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers)
        await communicator.connect()
        assert await communicator.receive_output(timeout=5) == CLOSED_4403
        await communicator.disconnect()  # ended here, not cancelled by the loop's shutdown (see below)

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_anonymous_connections(workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a)

    async def run():
        for path in (f"/ws/executions/{execution.pk}/", "/ws/executions/"):
            communicator = WebsocketCommunicator(application, path, headers=socket_headers())
            await communicator.connect()
            assert await communicator.receive_output(timeout=5) == CLOSED_4403
            await communicator.disconnect()  # ended here, not cancelled by the loop's shutdown (see below)

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_run_that_does_not_exist(alice):
    headers = socket_headers(alice)

    async def run():
        communicator = WebsocketCommunicator(
            application, "/ws/executions/00000000-0000-0000-0000-000000000000/", headers=headers
        )
        await communicator.connect()
        assert await communicator.receive_output(timeout=5) == CLOSED_4403
        await communicator.disconnect()  # ended here, not cancelled by the loop's shutdown (see below)

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_stops_sending_to_a_member_removed_from_the_workspace(bob, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a, status=ExecutionStatus.RUNNING, total_steps=1)
    ExecutionStepFactory.create(execution=execution, step_number=1, tool="test.noop")
    headers = socket_headers(bob)

    async def run():
        with _published_on(asyncio.get_running_loop()):
            communicator = WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers)
            assert (await communicator.connect())[0]
            await communicator.receive_from(timeout=5)
            await database_sync_to_async(WorkspaceMember.objects.filter(user=bob).delete)()
            await database_sync_to_async(Execution.objects.filter(pk=execution.pk).update)(request="after removal")
            await database_sync_to_async(publish_execution)(execution.pk)
            assert await communicator.receive_output(timeout=5) == CLOSED_4403
            # Ended here, within a bounded wait, not cancelled by the loop's shutdown (channels-redis's
            # receive could hang that shutdown).
            await communicator.disconnect()

    async_to_sync(run)()


def _live_url(user, query: str = "") -> str:
    """The stream the list page connects to, as the page renders it (with its filters and render time)."""
    client = Client()
    client.force_login(user)
    page = client.get(f"/orchestrate{query}").content.decode()
    found = re.search(r'ws-connect="(/ws/executions/[^"]*)"', page)
    assert found is not None, "the list page names no live stream"
    return html.unescape(found.group(1))


@pytest.mark.django_db(transaction=True)
def test_it_brings_a_teammates_new_run_to_the_top_of_the_list_and_updates_it(alice, bob, charlie, workspace_a):
    old = ExecutionFactory.create(workspace=workspace_a, user=alice, request="Listed before")
    alice_headers, charlie_headers = socket_headers(alice), socket_headers(charlie)
    paths = {"all": _live_url(alice), "failed": _live_url(alice, "?status=failed"), "charlie": _live_url(charlie)}
    assert paths["failed"].startswith("/ws/executions/?status=failed&q=&page=1&since=")

    async def run():
        with _published_on(asyncio.get_running_loop()):
            watcher = WebsocketCommunicator(application, paths["all"], headers=alice_headers)
            filtered = WebsocketCommunicator(application, paths["failed"], headers=alice_headers)
            outsider = WebsocketCommunicator(application, paths["charlie"], headers=charlie_headers)
            for communicator in (watcher, filtered, outsider):
                assert (await communicator.connect())[0]
                assert await communicator.receive_nothing(timeout=0.1)
            frames: dict[str, list[str]] = {"all": [], "failed": []}

            async def change(execution_id, **fields):
                await database_sync_to_async(Execution.objects.filter(pk=execution_id).update)(**fields)
                await database_sync_to_async(publish_execution)(execution_id)
                frames["all"].append(await watcher.receive_from(timeout=5))
                frames["failed"].append(await filtered.receive_from(timeout=5))

            # A new run as the engine publishes it, held still (no planner) so each frame is the test's doing.
            execution = await database_sync_to_async(ExecutionFactory.create)(
                user=bob, workspace=workspace_a, request="Bob's <i>run</i>"
            )
            await database_sync_to_async(publish_execution)(execution.pk)
            frames["all"].append(await watcher.receive_from(timeout=5))
            frames["failed"].append(await filtered.receive_from(timeout=5))
            await change(execution.pk, status=ExecutionStatus.RUNNING, total_steps=3, current_step=1)
            await change(execution.pk, status=ExecutionStatus.FAILED, current_step=2)
            await change(old.pk, status=ExecutionStatus.FAILED)
            assert await outsider.receive_nothing(timeout=0.5)
            for communicator in (watcher, filtered, outsider):
                await communicator.disconnect()
        return execution, frames

    execution, frames = async_to_sync(run)()

    added, running, failed, old_row = frames["all"]
    assert added.startswith('<tbody hx-swap-oob="afterbegin:#executions-body"><tr id="execution-')
    assert f'<tr id="execution-{execution.pk}">' in added
    assert '<tr id="executions-empty" hx-swap-oob="delete">' in added
    assert "Bob&#x27;s &lt;i&gt;run&lt;/i&gt;" in added
    assert running.startswith(f'<tr id="execution-{execution.pk}" hx-swap-oob="true">')  # added once, then replaced
    assert 'data-status="running"' in running
    assert "1 / 3" in running
    assert failed.startswith(f'<tr id="execution-{execution.pk}" hx-swap-oob="true">')
    assert old_row.startswith(f'<tr id="execution-{old.pk}" hx-swap-oob="true">')  # on the page already
    # The list of failed runs gets the run on top only once it failed.
    pending, running, failed, old_row = frames["failed"]
    assert pending.startswith(f'<tr id="execution-{execution.pk}" hx-swap-oob="true">')
    assert running.startswith(f'<tr id="execution-{execution.pk}" hx-swap-oob="true">')
    assert failed.startswith('<tbody hx-swap-oob="afterbegin:#executions-body">')
    assert old_row.startswith(f'<tr id="execution-{old.pk}" hx-swap-oob="true">')  # older than the page


@pytest.mark.django_db(transaction=True)
def test_it_closes_the_list_stream_of_a_member_removed_from_every_workspace(bob, workspace_a):
    execution = ExecutionFactory.create(workspace=workspace_a)
    headers = socket_headers(bob)

    async def run():
        with _published_on(asyncio.get_running_loop()):
            communicator = WebsocketCommunicator(application, "/ws/executions/", headers=headers)
            assert (await communicator.connect())[0]
            await database_sync_to_async(WorkspaceMember.objects.filter(user=bob).delete)()
            await database_sync_to_async(publish_execution)(execution.pk)
            assert await communicator.receive_output(timeout=5) == CLOSED_4403
            # Ended here, within a bounded wait, not cancelled by the loop's shutdown (channels-redis's
            # receive could hang that shutdown).
            await communicator.disconnect()

    async_to_sync(run)()


@pytest.mark.usefixtures("engine")
@pytest.mark.django_db(transaction=True)
def test_it_follows_a_run_once_per_process_for_all_its_open_pages(alice, workspace_a):
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    from orchestration.events import execution_group

    plan = {
        "steps": [
            {"number": 1, "tool": "test.sleep", "input": {"seconds": 1.0}},  # every page connects meanwhile
            *({"number": n, "tool": "test.noop", "input": {"value": n}, "depends_on": [n - 1]} for n in range(2, 13)),
        ]
    }
    headers = socket_headers(alice)

    async def run():
        with _published_on(asyncio.get_running_loop()):
            execution = await database_sync_to_async(submit)(
                user=alice, workspace=workspace_a, request_text="many pages", plan=plan
            )
            pages = [
                WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers) for _ in range(8)
            ]
            for page in pages:
                assert (await page.connect())[0]
                await page.receive_from(timeout=5)  # the catch-up
            layer = get_channel_layer()
            members = None
            if isinstance(layer, InMemoryChannelLayer):  # channels-redis keeps its groups in Redis
                members = len(layer.groups.get(execution_group(execution.pk), {}))
            streams = [await _receive_until(page, _status("succeeded")) for page in pages]
            for page in pages:
                await page.disconnect()
            left = len(layer.groups.get(execution_group(execution.pk), {})) if members is not None else None
        return members, streams, left

    members, streams, left = async_to_sync(run)()

    assert members in (None, 1)  # one listener for the eight pages, not eight
    assert left in (None, 0)  # and none once they all closed
    for frames in streams:
        # Rows came live, several steps to a frame when they changed within a moment...
        assert any('<section id="steps"' not in frame and 'class="step step-succeeded"' in frame for frame in frames)
        # ...and every page ends on the whole final state.
        assert frames[-1].count('class="step step-succeeded"') == 12


@pytest.mark.usefixtures("engine")
def test_it_renders_a_runs_whole_state_once_per_person_for_all_their_pages(alice, victor, workspace_a, monkeypatch):
    from orchestration import consumers

    plan = {
        "steps": [
            {"number": 1, "tool": "test.sleep", "input": {"seconds": 5.0}},  # every page connects meanwhile
            {"number": 2, "tool": "test.flaky", "input": {"failures": -1}, "depends_on": [1]},  # refused: fails the run
        ]
    }
    rendered = []
    render = consumers._render_execution
    headers = {alice: socket_headers(alice), victor: socket_headers(victor)}

    def counting(user, execution_id, parts, steps=()):
        rendered.append(user.username)
        return render(user, execution_id, parts, steps)

    async def run():
        with _published_on(asyncio.get_running_loop()):
            execution = await database_sync_to_async(submit)(
                user=alice, workspace=workspace_a, request_text="shared states", plan=plan
            )
            # Pages open once it runs, so the run's only event after their catch-up is its end.
            while (await Execution.objects.aget(pk=execution.pk)).status != ExecutionStatus.RUNNING:
                await asyncio.sleep(0.05)
            pages = {
                person: [
                    WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers[person])
                    for _ in range(count)
                ]
                for person, count in ((alice, 3), (victor, 2))
            }
            for page in [*pages[alice], *pages[victor]]:
                assert (await page.connect(timeout=10))[0]
                await page.receive_from(timeout=5)  # the catch-up, each page its own
            monkeypatch.setattr(consumers, "_render_execution", counting)
            streams = {
                person: [await _receive_until(page, _status("failed")) for page in opened]
                for person, opened in pages.items()
            }
            for page in [*pages[alice], *pages[victor]]:
                await page.disconnect()
        return streams

    streams = async_to_sync(run)()

    whole_states = [frame for frame in streams[alice][0] if '<section id="steps"' in frame]
    assert whole_states
    # Each run event read the state once for alice's three pages and once for victor's two.
    assert sorted(rendered) == sorted(["alice", "victor"] * len(whole_states))
    # Each person's pages show what that person may do: the owner may retry, the viewer may not.
    assert all('id="resume-form"' in frames[-1] for frames in streams[alice])
    assert all('id="resume-form"' not in frames[-1] and _status("failed") in frames[-1] for frames in streams[victor])
