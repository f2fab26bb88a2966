"""Secrets typed into a tool's input: sealed wherever plans and steps are stored, redacted wherever shown.

A plan may carry a secret for its tool, e.g. `{"headers": {"Authorization":
"Bearer ..."}}` for `web.post`, an `api_key` or a `password`. Values under
keys that name secrets (`monitoring.tracing.is_secret_key`) are sealed when
the plan is stored (`seal_plan`, before the run, its steps, its plan
versions and the agents' messages are written): the stored plan and step
input hold `{"$secret": "v1...."}`, encrypted for the run's workspace
(`tenancy.secrets`). The engine opens it when it resolves the step's input
for the tool call (`references.resolve`), so only the tool receives the real
value, and the approval shows it redacted while its digest covers it.

Everything shown to people goes through `shown()`, which replaces sealed
values and any secret-named value (rows written before sealing) with
"[redacted]".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitoring.tracing import REDACTED, is_secret_key
from tenancy.secrets import SecretUnreadable, is_sealed, open_sealed, seal

SEALED = "$secret"
PURPOSE = "tool-input"


class UnreadableSecret(ValueError):
    """A sealed secret of a step's input that cannot be opened; the message is shown to people."""


def _is_reference(value: object) -> bool:
    """A value the engine resolves at run time: a step output, shared context, or an already sealed secret."""
    return isinstance(value, Mapping) and any(key in value for key in ("$step", "$context", SEALED))


def seal_input(value: Any, *, workspace_id: object) -> Any:
    """The input with every non-empty value under a secret-named key sealed for the workspace."""
    if isinstance(value, Mapping):
        if _is_reference(value):
            return dict(value)
        sealed: dict[str, Any] = {}
        for key, item in value.items():
            if is_secret_key(key) and item not in (None, "") and not _is_reference(item):
                sealed[key] = {SEALED: seal(item, purpose=PURPOSE, workspace_id=workspace_id)}
            else:
                sealed[key] = seal_input(item, workspace_id=workspace_id)
        return sealed
    if isinstance(value, list):
        return [seal_input(item, workspace_id=workspace_id) for item in value]
    return value


def seal_plan(plan: dict[str, Any], *, workspace_id: object) -> dict[str, Any]:
    """The plan with the secrets in its steps' inputs sealed."""
    steps = [
        {**step, "input": seal_input(step.get("input", {}), workspace_id=workspace_id)}
        for step in plan.get("steps", [])
    ]
    return {**plan, "steps": steps}


def open_secret(token: object, *, workspace_id: object) -> Any:
    """The real value of a sealed secret of a step's input; UnreadableSecret when it will not open."""
    if not isinstance(token, str) or not is_sealed(token):
        raise UnreadableSecret("A secret of this step's input is not a sealed value.")
    try:
        return open_sealed(token, purpose=PURPOSE, workspace_id=workspace_id)
    except SecretUnreadable as exc:
        raise UnreadableSecret(str(exc)) from None


def shown(value: Any) -> Any:
    """What people may see of a stored input, plan or message: secrets, sealed or not, redacted."""
    if isinstance(value, Mapping):
        if SEALED in value:
            return REDACTED
        return {key: _shown_item(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


def _shown_item(key: object, item: Any) -> Any:
    if not is_secret_key(key) or item in (None, ""):
        return shown(item)
    # A reference to a step's output or shared context says where a value comes from, not what it is.
    return dict(item) if _is_reference(item) and SEALED not in item else REDACTED
