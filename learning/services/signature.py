"""A request's shape, and plans with the request's particulars taken out (templates) and put back.

The signature is what the understanding step reads, minus the values: the
language, the intents and the kinds of entities named ("en|analyse+report|
files,format=csv"). A plan becomes a template by replacing every input
string that holds one of the request's entities (a file name, an address, a
date) with a slot (⟦file_patterns.0⟧); a template plans a new request with
the same signature by filling the slots with that request's entities.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from orchestration.planning.understanding import Understanding, understand

SLOT = re.compile(r"\u27e6([a-z_]+(?:\.\d+)?)\u27e7")


def request_signature(text: str, answers: dict[str, str] | None = None) -> str:
    return signature_of(understand(text, answers=answers))


def signature_of(found: Understanding) -> str:
    entities = found.entities
    kinds = [
        kind
        for kind, present in (
            ("file", entities.file_names),
            ("files", entities.file_patterns),
            ("to", found.recipients),
            ("self", found.to_self),
            ("when", entities.start),
            ("duration", entities.duration_minutes),
            ("url", entities.urls),
            ("contains", entities.contains),
        )
        if present
    ]
    if entities.file_format:
        kinds.append(f"format={entities.file_format}")
    return f"{found.language.code}|{'+'.join(sorted(found.intents)) or '-'}|{','.join(kinds) or '-'}"


def slots_of(found: Understanding) -> dict[str, str]:
    """The request's particulars, by slot name."""
    entities = found.entities
    values: dict[str, str] = {}
    for name in ("file_names", "file_patterns", "emails", "urls", "dates", "times"):
        for index, value in enumerate(getattr(entities, name)):
            values[f"{name}.{index}"] = str(value)
    for name, value in (
        ("start", entities.start),
        ("contains", entities.contains),
        ("event_name", found.event_name),
        ("message", found.message),
    ):
        if value:
            values[name] = str(value)
    return {slot: value for slot, value in values.items() if len(value) >= 2}


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    return value


def plan_template(plan: dict[str, Any], found: Understanding) -> list[dict[str, Any]]:
    """The plan's steps (what a plan is made of, nothing of who made it) with the request's entities as slots."""
    slots = sorted(slots_of(found).items(), key=lambda item: len(item[1]), reverse=True)

    def abstract(text: str) -> str:
        for slot, value in slots:
            text = text.replace(value, f"\u27e6{slot}\u27e7")
        return text

    keep = ("number", "tool", "input", "depends_on", "optional", "timeout_seconds", "max_attempts", "description")
    steps = [{key: copy.deepcopy(step[key]) for key in keep if key in step} for step in plan["steps"]]
    for step in steps:
        step["input"] = _map_strings(step.get("input", {}), abstract)
    return steps


def fill_template(template: list[dict[str, Any]], found: Understanding) -> list[dict[str, Any]] | None:
    """The template's steps for this request, or None when it lacks a particular the template needs."""
    slots = slots_of(found)
    missing: list[str] = []

    def fill(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match.group(1) not in slots:
                missing.append(match.group(1))
                return match.group(0)
            return slots[match.group(1)]

        return SLOT.sub(value, text)

    steps = [{**step, "input": _map_strings(step.get("input", {}), fill)} for step in copy.deepcopy(template)]
    return None if missing else steps


def template_key(signature: str, template: list[dict[str, Any]]) -> str:
    """A short stable name for (signature, template): equal plans for equal shapes share a pattern."""
    body = json.dumps([signature, template], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:40]


def template_summary(template: list[dict[str, Any]]) -> str:
    """The plan in one line, for people: each step's tool and input ("analysis.describe {"files": [...]}")."""
    shown = []
    for step in template:
        given = json.dumps(step.get("input", {}), ensure_ascii=False, sort_keys=True)
        shown.append(f"{step.get('tool')} {given if len(given) <= 80 else given[:77] + '...'}")
    return " -> ".join(shown)
