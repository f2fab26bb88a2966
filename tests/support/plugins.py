"""Plugins the tests load (ORCHESTRATE_EXTRA_PLUGINS, see tests/environment.py).

They do nothing unless their row's settings ask: rows are re-synced with
empty settings for every test, so other tests never see them act.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from plugins.contract import HOOK_POINTS, HookEvent, OrchestratePlugin, Refuse

# (plugin, hook, execution id or None, data) in the order the hooks ran, across threads.
calls: list[tuple[str, str, str | None, dict[str, Any]]] = []
_lock = threading.Lock()


def record(plugin: str, event: HookEvent) -> None:
    with _lock:
        calls.append((plugin, event.hook, str(event.execution_id) if event.execution_id else None, event.data))


class Recorder(OrchestratePlugin):
    """Records every hook; settings may make it refuse requests containing a word, or amend the plan."""

    name = "recorder"
    version = "2.0"
    orchestrate_versions = ">=0.1"
    settings_schema = {
        "type": "object",
        "properties": {
            "record": {"type": "boolean"},
            "refuse_word": {"type": "string"},
            "append_step": {"type": "object"},
        },
        "additionalProperties": False,
    }
    hooks = {hook: 10 for hook in HOOK_POINTS}

    def _on(self, event: HookEvent) -> Any:
        if not event.settings.get("record"):
            return None
        record(self.name, event)
        word = event.settings.get("refuse_word")
        if event.hook == "request_submitted" and word and word in event.data["request"]:
            return Refuse(f"requests about {event.settings['refuse_word']!r} are not allowed here")
        if event.hook == "plan_made" and event.settings.get("append_step"):
            plan = event.data["plan"]
            step = {"number": len(plan["steps"]) + 1, **event.settings["append_step"]}
            return {**plan, "steps": [*plan["steps"], step]}
        return None

    on_request_submitted = on_plan_made = on_step_starting = on_step_finished = _on
    on_approval_requested = on_approval_decided = on_run_finished = _on


class Raiser(OrchestratePlugin):
    """Raises (or sleeps past the time limit) in every hook when its settings say so; runs after the recorder."""

    name = "raiser"
    version = "1.0"
    settings_schema = {
        "type": "object",
        "properties": {"mode": {"enum": ["raise", "sleep"]}},
        "additionalProperties": False,
    }
    hooks = {hook: 20 for hook in HOOK_POINTS}

    def _on(self, event: HookEvent) -> None:
        mode = event.settings.get("mode")
        if mode == "raise":
            raise RuntimeError(f"raiser broke in {event.hook}")
        if mode == "sleep":
            time.sleep(2)
            record(self.name, event)  # too late: the engine has moved on

    on_request_submitted = on_plan_made = on_step_starting = on_step_finished = _on
    on_approval_requested = on_approval_decided = on_run_finished = _on


class Broken(OrchestratePlugin):
    """Breaks the contract (a hook point that does not exist): loaded as broken and disabled."""

    name = "broken"
    version = "0.1"
    hooks = {"after_lunch": 1}
