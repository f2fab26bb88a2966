"""Resolving a step's planned input into the values its tool receives.

A planned input may hold references:
- {"$step": 2} is the whole output of step 2, {"$step": 2, "path": "files.0.name"}
  a part of it (dotted keys and list indices);
- {"$context": "files.found"} is the value an agent shared under that key;
- {"$secret": "v1...."} is a secret typed into the plan, kept sealed
  (`safety.secrets`) and opened only here, for the tool call.
A step may only refer to steps it depends on, so its input is complete when
it becomes ready.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class UnresolvedReference(ValueError):
    """A reference that points at nothing; the message is shown to people."""


def follow_path(value: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise UnresolvedReference(f"Path {path!r} does not exist (stopped at {part!r})")
    return value


def references_of(value: Any) -> set[int]:
    """Step numbers the value refers to."""
    if isinstance(value, dict):
        if "$step" in value:
            return {value["$step"]} if isinstance(value["$step"], int) else set()
        return set().union(*(references_of(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references_of(v) for v in value)) if value else set()
    return set()


def resolve(
    value: Any,
    *,
    step_output: Callable[[int], Any],
    context_value: Callable[[str], Any],
    secret_value: Callable[[str], Any] | None = None,
) -> Any:
    if isinstance(value, dict):
        if "$secret" in value:
            if secret_value is None:
                raise UnresolvedReference("A sealed secret cannot be opened here")
            try:
                return secret_value(value["$secret"])
            except ValueError as exc:
                raise UnresolvedReference(str(exc)) from None
        if "$step" in value:
            number = value["$step"]
            if not isinstance(number, int):
                raise UnresolvedReference(f"$step must be a step number, got {number!r}")
            return follow_path(step_output(number), str(value.get("path", "")))
        if "$context" in value:
            found = context_value(str(value["$context"]))
            return follow_path(found, str(value["path"])) if "path" in value else found
        return {
            key: resolve(item, step_output=step_output, context_value=context_value, secret_value=secret_value)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            resolve(item, step_output=step_output, context_value=context_value, secret_value=secret_value)
            for item in value
        ]
    return value
