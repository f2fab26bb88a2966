"""Calling plugin hooks from the engine.

`call()` is the one way the engine runs hooks. A hook point no enabled plugin
handles costs a dict lookup (`registry.handlers`) and nothing else. When some
plugin handles it, one query reads which of them are enabled, their order and
settings; each hook then runs on a worker thread with a time limit. A hook
that raises, overruns or has invalid settings is logged, recorded on its
plugin row (errors seen, shown in the console) and skipped: the run goes on.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import jsonschema
from django.conf import settings
from django.utils import timezone

from plugins.contract import HookEvent
from plugins.models import Plugin, PluginHook
from plugins.registry import registry

logger = logging.getLogger(__name__)

ERRORS_KEPT = 20
# Few threads: hooks are short calls out; one that overruns keeps its thread until it returns.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="plugin-hook")


@dataclass(frozen=True)
class Answer:
    plugin: str
    value: object = None
    error: str = ""


def handles(hook: str) -> bool:
    return bool(registry.handlers.get(hook))


def call(
    hook: str,
    *,
    workspace_id: uuid.UUID | None = None,
    execution_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> list[Answer]:
    """Run every enabled plugin's hook for this point in execution order; their answers, errors included."""
    names = registry.handlers.get(hook)
    if not names:
        return []
    rows = (
        PluginHook.objects.filter(hook_name=hook, plugin__enabled=True, plugin__name__in=names)
        .order_by("execution_order", "plugin__name")
        .values_list("plugin__name", "plugin__config")
    )
    answers = []
    for name, config in rows:
        loaded = registry.loaded.get(name)
        if loaded is None or loaded.plugin is None:
            continue
        plugin = loaded.plugin
        event = HookEvent(
            hook=hook, workspace_id=workspace_id, execution_id=execution_id, data=dict(data or {}), settings=config
        )
        try:
            jsonschema.validate(config, plugin.settings_schema)
            future = _pool.submit(getattr(plugin, f"on_{hook}"), event)
            answers.append(Answer(name, future.result(timeout=settings.ORCHESTRATE_PLUGIN_HOOK_TIMEOUT)))
        except FutureTimeout:
            answers.append(
                _failed(name, hook, f"overran its time limit of {settings.ORCHESTRATE_PLUGIN_HOOK_TIMEOUT:g}s")
            )
        except jsonschema.ValidationError as exc:
            answers.append(_failed(name, hook, f"its settings are invalid: {exc.message}"))
        except Exception as exc:
            answers.append(_failed(name, hook, f"{type(exc).__name__}: {exc}"))
    return answers


def _failed(name: str, hook: str, error: str) -> Answer:
    logger.error("Plugin %s: hook %s skipped: %s", name, hook, error)
    record_error(name, f"{hook}: {error}")
    return Answer(name, error=error)


def record_error(name: str, error: str) -> None:
    """Keep the latest errors on the plugin's row, newest first (read-modify-write: a lost entry is harmless)."""
    row = Plugin.objects.filter(name=name).values_list("pk", "errors").first()
    if row is None:
        return
    entry = {"at": timezone.now().isoformat(), "error": error[:1000]}
    Plugin.objects.filter(pk=row[0]).update(errors=[entry, *(row[1] or [])][:ERRORS_KEPT])
