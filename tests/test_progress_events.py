"""Every state change of a run reaches the run's and the workspace's groups; a step's, the run's group only."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from orchestration.engine.runs import run_planned, submit
from orchestration.events import execution_group, workspace_group
from tests.support.engine import wait_for

pytestmark = pytest.mark.usefixtures("engine")


def _drain(layer, channel, limit=200):
    async def receive_all():
        import asyncio

        messages = []
        while len(messages) < limit:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout=1.0))
            except TimeoutError:
                break
        return messages

    return async_to_sync(receive_all)()


def test_it_publishes_typed_events_for_every_change(alice, workspace_a):
    layer = get_channel_layer()
    of_workspace, of_run = async_to_sync(layer.new_channel)(), async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(workspace_group(workspace_a.pk), of_workspace)
    plan = {
        "steps": [
            {"number": 1, "tool": "test.noop", "input": {"value": 1}},
            {"number": 2, "tool": "test.noop", "depends_on": [1]},
        ]
    }
    # Planned first, so the run's group is joined before its steps start.
    planned = wait_for(
        submit(user=alice, workspace=workspace_a, request_text="events", plan=plan, plan_only=True), {"planned"}
    )
    async_to_sync(layer.group_add)(execution_group(planned.pk), of_run)
    assert run_planned(planned, alice)

    execution = wait_for(planned)
    events = _drain(layer, of_workspace)
    assert not [e for e in events if e["type"] == "step.updated"]  # no workspace page shows steps
    step_events = [e for e in _drain(layer, of_run) if e["type"] == "step.updated"]
    step_changes = [(e["step_number"], e["status"]) for e in step_events]
    assert step_changes == [(1, "running"), (1, "succeeded"), (2, "running"), (2, "succeeded")]

    # Each event carries the state at the moment it was sent, so a fast run may
    # skip a state, but never goes back.
    run_statuses = [e["status"] for e in events if e["type"] == "execution.updated"]
    order = ["pending", "planning", "planned", "running", "succeeded"]
    assert [order.index(status) for status in run_statuses] == sorted(order.index(status) for status in run_statuses)
    assert "running" in run_statuses
    assert run_statuses[-1] == "succeeded"
    finished = [e for e in events if e["type"] == "execution.updated"][-1]
    assert finished == {
        "type": "execution.updated",
        "execution_id": str(execution.pk),
        "workspace_id": str(workspace_a.pk),
        "status": "succeeded",
        "current_step": 2,
        "total_steps": 2,
        "error": "",
    }
    assert set(step_events[-1]) >= {"agent", "tool", "cached", "attempts", "duration_ms", "tokens_used", "waiting_for"}
    assert execution_group(execution.pk) == f"execution.{execution.pk}"
