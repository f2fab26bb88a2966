"""Hooks called from other apps' signals (connected in PluginsConfig.ready())."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import transaction

from orchestration.signals import FinishedRun
from plugins import hooks
from safety.models import PendingApproval


def run_finished_hook(sender: Any, run: FinishedRun, **kwargs: Any) -> None:
    # The signal is sent inside the transaction that ends the run: hooks call out, so they run after it commits.
    if not hooks.handles("run_finished"):
        return
    data = {
        key: str(value) if not isinstance(value, int | str | list | bool) else value
        for key, value in dataclasses.asdict(run).items()
    }
    transaction.on_commit(
        lambda: hooks.call("run_finished", workspace_id=run.workspace_id, execution_id=run.execution_id, data=data)
    )


def _approval_data(approval: PendingApproval) -> dict[str, Any]:
    return {
        "approval_id": str(approval.pk),
        "step_id": str(approval.step_id) if approval.step_id else None,
        "action_type": approval.action_type,
        "status": approval.status,
        "reason": approval.reason,
    }


def approval_requested_hook(sender: Any, approval: PendingApproval, **kwargs: Any) -> None:
    if hooks.handles("approval_requested"):
        data = _approval_data(approval)
        transaction.on_commit(lambda: _call("approval_requested", approval, data))


def approval_decided_hook(sender: Any, approval: PendingApproval, **kwargs: Any) -> None:
    if hooks.handles("approval_decided"):
        data = _approval_data(approval)
        transaction.on_commit(lambda: _call("approval_decided", approval, data))


def _call(hook: str, approval: PendingApproval, data: dict[str, Any]) -> None:
    workspace_id = approval.execution.workspace_id
    hooks.call(hook, workspace_id=workspace_id, execution_id=approval.execution_id, data=data)
