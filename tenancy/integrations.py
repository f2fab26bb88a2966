"""A workspace's integration settings, with their secrets sealed at rest and masked in forms.

`Workspace.integrations` holds, e.g., {"caldav": {"url", "username",
"password", "calendar"}, "rate_limits": {...}}. Every value under a key
that names a secret (password, token, api_key...) is stored as
{"$sealed": "v1...."} (`tenancy.secrets`); Python code reading the field,
such as the CalDAV client, gets the real value. A value no configured key
opens stays sealed, so saving the workspace again does not lose it.

Forms never show a stored secret: they show `KEEP` in its place, and a
form sent back with `KEEP` keeps the stored value; typing another value
replaces it, and removing the key removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django import forms
from django.db import models

from monitoring.tracing import is_secret_key
from tenancy.secrets import SecretUnreadable, open_sealed, seal

logger = logging.getLogger(__name__)

PURPOSE = "integrations"
SEALED = "$sealed"
KEEP = "[stored secret: leave as is to keep it]"
# Integration settings are sealed for the installation rather than for one workspace: the field is
# read (e.g. with values_list) where the row's id is not at hand, and no form shows the sealed form.
SCOPE = None


def _is_sealed(value: object) -> bool:
    return isinstance(value, Mapping) and set(value) == {SEALED}


def seal_secrets(value: Any) -> Any:
    """The settings as stored: secret-named values sealed (already sealed ones as they are)."""
    if isinstance(value, Mapping):
        return {
            key: (
                {SEALED: seal(item, purpose=PURPOSE, workspace_id=SCOPE)}
                if is_secret_key(key) and item not in (None, "", KEEP) and not _is_sealed(item)
                else seal_secrets(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [seal_secrets(item) for item in value]
    return value


def open_secrets(value: Any) -> Any:
    """The settings as code uses them: sealed values opened where a key opens them."""
    if _is_sealed(value):
        try:
            return open_sealed(value[SEALED], purpose=PURPOSE, workspace_id=SCOPE)
        except SecretUnreadable as exc:
            logger.warning("A workspace integration secret stays sealed: %s", exc)
            return dict(value)
    if isinstance(value, Mapping):
        return {key: open_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [open_secrets(item) for item in value]
    return value


def masked(value: Any) -> Any:
    """The settings as a form shows them: every stored secret replaced by KEEP."""
    if isinstance(value, Mapping):
        return {
            key: KEEP if is_secret_key(key) and item not in (None, "") else masked(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def keep_stored(submitted: Any, stored: Any) -> Any:
    """The submitted settings with each KEEP replaced by the stored value at the same place (or dropped)."""
    if isinstance(submitted, Mapping):
        stored_map = stored if isinstance(stored, Mapping) else {}
        kept: dict[str, Any] = {}
        for key, item in submitted.items():
            if item == KEEP:
                if key in stored_map:
                    kept[key] = stored_map[key]
                continue
            kept[key] = keep_stored(item, stored_map.get(key))
        return kept
    if isinstance(submitted, list):
        stored_list = stored if isinstance(stored, list) else []
        return [
            keep_stored(item, stored_list[index] if index < len(stored_list) else None)
            for index, item in enumerate(submitted)
        ]
    return submitted


def _has_keep(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_keep(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_keep(item) for item in value)
    return value == KEEP


class IntegrationsFormField(forms.JSONField):
    """The settings as JSON text, stored secrets shown as KEEP."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value  # what the person typed, shown back with its error
        return super().prepare_value(masked(value))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return super().has_changed(masked(initial), data)


class SealedSecretsJSONField(models.JSONField):
    """A JSON object whose secret-named values are sealed in the database and open in Python."""

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(seal_secrets(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return open_secrets(super().from_db_value(value, expression, connection))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = super().pre_save(model_instance, add)
        if _has_keep(value):
            # A form sent back the placeholders of secrets it did not show: keep what is stored.
            stored = None
            if not add:
                manager = type(model_instance)._base_manager
                stored = manager.filter(pk=model_instance.pk).values_list(self.attname, flat=True).first()
            value = keep_stored(value, stored)
            setattr(model_instance, self.attname, value)
        return value

    def value_to_string(self, obj: models.Model) -> Any:
        # What serializers write (dumpdata, backups): sealed, as in the database; loaddata opens it again.
        return seal_secrets(self.value_from_object(obj))

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": IntegrationsFormField, **kwargs})
