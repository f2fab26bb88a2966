"""The built-in rule planner: no model needed.

It reads what the request asks for (intents, by keyword), reads out the
entities (files, dates, addresses, URLs), finds the registered tool whose
capability serves each intent, and orders the steps source -> transform ->
sink, each step taking its input from the one before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.text import slugify

from orchestration.planning.entities import Entities, extract
from tools.base import Stage
from tools.llm_client import llm_configured
from tools.registry import registry


class NoToolForRequest(ValueError):
    """Nothing installed can serve the request; the message says what was missing."""


@dataclass(frozen=True)
class Intent:
    name: str
    capability: str
    stage: Stage
    applies: Callable[[str, Entities], bool]
    # Builds the tool input from the request, its entities and the step
    # numbers of the steps this one consumes.
    build: Callable[[str, Entities, list[int]], dict[str, Any]]
    needs_files: bool = False
    # Why the intent cannot be served right now (e.g. no model configured), or None.
    unavailable: Callable[[], str | None] = lambda: None


def _said(pattern: str) -> Callable[[str, Entities], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda text, entities: bool(compiled.search(text))


SUMMARISE = r"\b(summari[sz]e|summary|analy[sz]e|analysis|statistics|stats|describe|averages?|totals?|figures)\b"
TEXT_FORMATS = {"txt", "md", "log"}


def _files_of(entities: Entities, consumed: list[int]) -> Any:
    """The files a transform reads: what the search step found, or the names the request gave."""
    return {"$step": consumed[0], "path": "files"} if consumed else entities.file_names


def _report_input(text: str, entities: Entities, consumed: list[int]) -> dict[str, Any]:
    title = _title(text)
    return {
        "title": title,
        "sections": [{"$step": number} for number in consumed],
        "filename": f"reports/{slugify(title)[:60] or 'report'}.md",
    }


def _title(text: str) -> str:
    subject = re.sub(r"\s+and\s+(write|make|create|produce)\b.*$", "", text.strip(), flags=re.IGNORECASE)
    subject = subject.rstrip(".!? ")
    return (subject[:1].upper() + subject[1:])[:80] or "Report"


INTENTS: list[Intent] = [
    Intent(
        "find files",
        "files.search",
        Stage.SOURCE,
        lambda text, entities: bool(entities.file_patterns),
        lambda text, entities, consumed: {"pattern": entities.file_patterns[0]},
    ),
    Intent(
        "describe data",
        "data.describe",
        Stage.TRANSFORM,
        lambda text, entities: (
            bool(re.search(SUMMARISE, text, re.IGNORECASE)) and entities.file_format in {"csv", "tsv", "json"}
        ),
        lambda text, entities, consumed: {"files": _files_of(entities, consumed)},
        needs_files=True,
    ),
    Intent(
        "summarise text",
        "text.summarise",
        Stage.TRANSFORM,
        lambda text, entities: (
            bool(re.search(SUMMARISE, text, re.IGNORECASE))
            and entities.mentions_files
            and entities.file_format not in {"csv", "tsv", "json"}
        ),
        lambda text, entities, consumed: {"files": _files_of(entities, consumed)},
        needs_files=True,
    ),
    Intent(
        "write a report",
        "report.write",
        Stage.SINK,
        _said(r"\breport\b|\bwrite[- ]?up\b"),
        _report_input,
    ),
    Intent(
        "ask the language model",
        "llm.chat",
        Stage.TRANSFORM,
        lambda text, entities: (
            not entities.mentions_files
            and bool(re.search(r"\b(draft|compose|translate|explain|brainstorm|answer|ask)\b", text, re.IGNORECASE))
        ),
        lambda text, entities, consumed: {"prompt": text},
        unavailable=lambda: None if llm_configured() else "This request needs a language model: set LLM_BASE_URL.",
    ),
]


def _tool_for(capability: str) -> str | None:
    candidates = [tool.name for tool in registry.all() if capability in tool.capabilities]
    return candidates[0] if candidates else None


def plan_with_rules(request_text: str, today: date | None = None) -> dict[str, Any]:
    """A plan for the request, or NoToolForRequest saying what could not be served."""
    text = " ".join(request_text.split())
    entities = extract(text, today)
    wanted = [intent for intent in INTENTS if intent.applies(text, entities)]
    asks_for_analysis = re.search(SUMMARISE, text, re.IGNORECASE)
    if (asks_for_analysis or any(intent.needs_files for intent in wanted)) and not entities.mentions_files:
        raise NoToolForRequest("Say which files to use, e.g. 'the sales CSV files' or 'q1.csv'.")
    if wanted and all(intent.stage == Stage.SINK for intent in wanted):
        raise NoToolForRequest("Say what to work on, e.g. 'write a report on the sales CSV files'.")
    for intent in wanted:
        reason = intent.unavailable()
        if reason:
            raise NoToolForRequest(reason)
    if not wanted:
        capabilities = sorted({cap for tool in registry.all() for cap in tool.capabilities})
        raise NoToolForRequest("No tool can serve this request. Installed tools can: " + ", ".join(capabilities) + ".")
    missing = [intent.name for intent in wanted if _tool_for(intent.capability) is None]
    if missing:
        raise NoToolForRequest(f"No installed tool can {', '.join(missing)}.")
    steps: list[dict[str, Any]] = []
    numbers: dict[Stage, list[int]] = {stage: [] for stage in Stage}
    for stage in (Stage.SOURCE, Stage.TRANSFORM, Stage.SINK):
        # Transforms read the sources; sinks take the transforms' results, or the sources' when there are none.
        upstream = {
            Stage.SOURCE: [],
            Stage.TRANSFORM: numbers[Stage.SOURCE],
            Stage.SINK: numbers[Stage.TRANSFORM] or numbers[Stage.SOURCE],
        }[stage]
        for intent in (intent for intent in wanted if intent.stage == stage):
            steps.append(
                {
                    "number": len(steps) + 1,
                    "tool": _tool_for(intent.capability),
                    "input": intent.build(text, entities, list(upstream)),
                    "depends_on": list(upstream),
                    "description": intent.name[:1].upper() + intent.name[1:],
                }
            )
            numbers[stage].append(len(steps))
    return {"steps": steps, "entities": entities.as_dict()}
