"""The plugins console: who sees it, the installed plugins as shown, and the changes superusers make.

Plugins are installation-wide: switching one off or changing its settings
changes every workspace's runs (its hooks see them all). So superusers
change them; workspace owners see what is installed and which hooks run on
their runs, read-only, without the settings (a webhook address is a secret
of the installation) or the errors (a hook's error may quote another
tenant's run). Disabling a plugin takes its tools out of planning at once
(`plugins.state.disabled_tools`) and its hooks stop being called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsonschema
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from plugins.models import Plugin
from plugins.registry import registry
from tenancy.models import WorkspaceMember
from tenancy.roles import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

MAX_SETTINGS_BYTES = 64 * 1024


class SettingsInvalid(ValueError):
    """The settings typed are not JSON, or do not match the plugin's settings schema; the message says where."""


@dataclass
class InstalledPlugin:
    """One plugin row as the console shows it, with what the running registry knows of it."""

    row: Plugin
    hooks: list[tuple[str, int]]
    tools: list[str]
    description: str
    settings_schema: dict[str, Any] | None  # None: not loaded in this process, so nothing to check against
    settings_json: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""  # why the settings just typed were refused

    @property
    def schema_json(self) -> str:
        return json.dumps(self.settings_schema, indent=2, sort_keys=True) if self.settings_schema else ""


def may_view_plugins(user: AnyUser) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return WorkspaceMember.objects.filter(user_id=user.pk, role=Role.OWNER).exists()


def may_manage_plugins(user: AnyUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


def _require_manage(user: AnyUser) -> None:
    if not may_manage_plugins(user):
        raise PermissionDenied(_("Only superusers change plugins: they act on every workspace's runs."))


def installed_plugins(user: AnyUser) -> list[InstalledPlugin]:
    """Every plugin row, newest state; settings and errors only for those who manage plugins."""
    if not may_view_plugins(user):
        raise PermissionDenied(_("Superusers and workspace owners see the installed plugins."))
    manager = may_manage_plugins(user)
    shown = []
    for row in Plugin.objects.prefetch_related("hooks").order_by("name"):
        loaded = registry.loaded.get(row.name)
        plugin = loaded.plugin if loaded is not None else None
        shown.append(
            InstalledPlugin(
                row=row,
                hooks=sorted((hook.hook_name, hook.execution_order) for hook in row.hooks.all()),
                tools=[tool.name for tool in plugin.tools] if plugin is not None else [],
                description=plugin.description if plugin is not None else "",
                settings_schema=dict(plugin.settings_schema) if plugin is not None else None,
                settings_json=json.dumps(row.config or {}, indent=2, sort_keys=True) if manager else "",
                errors=list(row.errors or []) if manager else [],
            )
        )
    return shown


def set_enabled(user: AnyUser, name: str, enabled: bool) -> Plugin:
    """Switch a plugin on or off for the whole installation."""
    _require_manage(user)
    row = Plugin.objects.get(name=name)
    if enabled and row.load_error:
        raise SettingsInvalid(f"{name} cannot be enabled: {row.load_error}")
    Plugin.objects.filter(pk=row.pk).update(enabled=enabled)
    row.enabled = enabled
    return row


def parse_settings(name: str, text: str) -> dict[str, Any]:
    """The settings typed, checked: JSON, an object, and valid against the plugin's schema (every problem said)."""
    if len(text.encode()) > MAX_SETTINGS_BYTES:
        raise SettingsInvalid(f"The settings are larger than {MAX_SETTINGS_BYTES // 1024} KB.")
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise SettingsInvalid(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    if not isinstance(value, dict):
        raise SettingsInvalid('The settings must be a JSON object, e.g. {"key": "value"}.')
    loaded = registry.loaded.get(name)
    if loaded is None or loaded.plugin is None:
        raise SettingsInvalid(f"{name} is not loaded, so its settings cannot be checked; fix its load error first.")
    validator = jsonschema.Draft202012Validator(loaded.plugin.settings_schema)
    problems = [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top level)'}: {error.message}"
        for error in sorted(validator.iter_errors(value), key=lambda error: [str(part) for part in error.absolute_path])
    ]
    if problems:
        raise SettingsInvalid("The settings do not match the plugin's schema: " + "; ".join(problems))
    return value


def update_settings(user: AnyUser, name: str, text: str) -> Plugin:
    """Save a plugin's settings typed as JSON; SettingsInvalid says what is wrong and nothing is saved."""
    _require_manage(user)
    row = Plugin.objects.get(name=name)
    row.config = parse_settings(name, text)
    Plugin.objects.filter(pk=row.pk).update(config=row.config)
    return row
