"""The built-in rule planner: no model needed.

It reads what the request asks for (intents, by keyword), reads out the
entities (files, dates, addresses, URLs), finds the registered tool whose
capability serves each intent, and orders the steps source -> transform ->
sink, each step taking its input from the steps it consumes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.text import slugify

from orchestration.planning.entities import Entities, extract
from tools.base import Stage
from tools.llm_client import llm_configured
from tools.registry import registry


class NoToolForRequest(ValueError):
    """Nothing installed can serve the request; the message says what was missing."""


@dataclass
class Draft:
    """The plan being built: what each intent became, by intent name."""

    text: str
    entities: Entities
    steps: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)

    def of(self, *names: str) -> list[int]:
        return [self.numbers[name] for name in names if name in self.numbers]


SUMMARISE = r"\b(summari[sz]e|summary|analy[sz]e|analysis|statistics|stats|describe|averages?|totals?|figures)\b"
WRITE_REPORT = (
    r"\b(write|make|create|produce|compose|draft|prepare)\b[^.]{0,40}\breport\b|\breport on\b|\bwrite[- ]?up\b"
)
SEND_MAIL = r"\b(e-?mail|mail|send)\b"
SCHEDULE = r"\b(schedule|book|arrange|set up|plan)\b[^.]*\b(meeting|call|review|event|appointment|session|sync)\b"
EVENT_NAME = (
    r"\b(?:schedule|book|arrange|set up|plan)\s+(?:a|an|the)?\s*(.+?)\s+(?:for|on|at|with|tomorrow|today|next|this)\b"
)
FETCH = r"\b(fetch|get|download|read|open|check|look at|summari[sz]e|analy[sz]e)\b"


def _said(pattern: str) -> Callable[[Draft], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda draft: bool(compiled.search(draft.text))


@dataclass(frozen=True)
class Intent:
    name: str
    capability: str
    stage: Stage
    applies: Callable[[Draft], bool]
    # The tool input, given the plan so far (earlier intents are already numbered).
    build: Callable[[Draft], dict[str, Any]]
    # The steps this one consumes, by intent name, in order of preference.
    consumes: tuple[str, ...] = ()
    # Why the intent cannot be served right now (e.g. no model configured), or None.
    unavailable: Callable[[], str | None] = lambda: None


def _files_input(draft: Draft) -> Any:
    """The files a transform reads: what a search found, or the names the request gave."""
    found = draft.of("find files")
    return {"$step": found[0], "path": "files"} if found else draft.entities.file_names


def _text_source(draft: Draft) -> dict[str, Any]:
    fetched = draft.of("fetch a web page")
    if fetched:
        return {"text": {"$step": fetched[0], "path": "text"}}
    return {"files": _files_input(draft)}


def _title(text: str) -> str:
    subject = re.split(
        r",|\s+and\s+(?:then\s+)?(?:write|make|create|produce|e-?mail|send)\b", text.strip(), flags=re.I
    )[0]
    subject = subject.rstrip(".!? ")
    return (subject[:1].upper() + subject[1:])[:80] or "Report"


def _report(draft: Draft) -> dict[str, Any]:
    title = _title(draft.text)
    consumed = draft.of("describe data", "summarise text", "ask the language model") or draft.of(
        "find files", "fetch a web page"
    )
    return {
        "title": title,
        "sections": [{"$step": number} for number in consumed],
        "filename": f"reports/{slugify(title)[:60] or 'report'}.md",
    }


def _email(draft: Draft) -> dict[str, Any]:
    attachments: Any = []
    report = draft.of("write a report") or draft.of("find the latest report")
    if draft.of("write a report"):
        attachments = [{"$step": report[0]}]
    elif report:
        attachments = {"$step": report[0], "path": "files"}
    subject = _title(draft.text) if draft.of("write a report") else "From Orchestrate: " + draft.text[:80]
    body = f"Hello,\n\nThis was sent by Orchestrate for the request:\n\n    {draft.text}\n"
    return {"to": draft.entities.emails, "subject": subject, "body": body, "attachments": attachments}


def _event(draft: Draft) -> dict[str, Any]:
    start = draft.entities.first_datetime()
    if start is None:
        raise NoToolForRequest("Say when, e.g. 'tomorrow at 10' or 'on 2026-12-01 at 14:30'.")
    match = re.search(EVENT_NAME, draft.text, re.I)
    summary = (match.group(1) if match else "Meeting").strip()
    minutes = re.search(r"\bfor\s+(\d{1,3})\s*(?:min|minutes)\b", draft.text, re.I)
    hours = re.search(r"\bfor\s+(\d{1,2})\s*(?:h|hours?)\b", draft.text, re.I)
    duration = int(minutes.group(1)) if minutes else int(hours.group(1)) * 60 if hours else 60
    return {
        "summary": summary[:1].upper() + summary[1:],
        "start": datetime.isoformat(start),
        "duration_minutes": duration,
        "attendees": draft.entities.emails,
        "description": f"Scheduled by Orchestrate for the request: {draft.text}",
    }


INTENTS: list[Intent] = [
    Intent(
        "find files",
        "files.search",
        Stage.SOURCE,
        lambda draft: bool(draft.entities.file_patterns),
        lambda draft: {"pattern": draft.entities.file_patterns[0]},
    ),
    Intent(
        "find the latest report",
        "files.search",
        Stage.SOURCE,
        lambda draft: (
            bool(re.search(r"\bthe (latest |last |new )?report\b", draft.text, re.I))
            and not re.search(WRITE_REPORT, draft.text, re.I)
        ),
        lambda draft: {"pattern": "reports/*", "newest": 1},
    ),
    Intent(
        "fetch a web page",
        "web.get",
        Stage.SOURCE,
        lambda draft: bool(draft.entities.urls) and bool(re.search(FETCH, draft.text, re.I)),
        lambda draft: {"url": draft.entities.urls[0]},
    ),
    Intent(
        "describe data",
        "data.describe",
        Stage.TRANSFORM,
        lambda draft: (
            bool(re.search(SUMMARISE, draft.text, re.I)) and draft.entities.file_format in {"csv", "tsv", "json"}
        ),
        lambda draft: {"files": _files_input(draft)},
    ),
    Intent(
        "summarise text",
        "text.summarise",
        Stage.TRANSFORM,
        lambda draft: (
            bool(re.search(SUMMARISE, draft.text, re.I))
            and (
                (draft.entities.mentions_files and draft.entities.file_format not in {"csv", "tsv", "json"})
                or "fetch a web page" in draft.numbers
            )
        ),
        _text_source,
    ),
    Intent(
        "ask the language model",
        "llm.chat",
        Stage.TRANSFORM,
        lambda draft: (
            not draft.entities.mentions_files
            and bool(re.search(r"\b(draft|compose|translate|explain|brainstorm|answer|ask)\b", draft.text, re.I))
        ),
        lambda draft: {"prompt": draft.text},
        unavailable=lambda: None if llm_configured() else "This request needs a language model: set LLM_BASE_URL.",
    ),
    Intent("write a report", "report.write", Stage.SINK, _said(WRITE_REPORT), _report),
    Intent(
        "send e-mail",
        "email.send",
        Stage.SINK,
        lambda draft: bool(draft.entities.emails) and bool(re.search(SEND_MAIL, draft.text, re.I)),
        _email,
        consumes=("write a report", "find the latest report"),
    ),
    Intent(
        "schedule an event",
        "calendar.create_event",
        Stage.SINK,
        lambda draft: bool(re.search(SCHEDULE, draft.text, re.I)),
        _event,
    ),
]


def _tool_for(capability: str) -> str | None:
    candidates = [tool.name for tool in registry.all() if capability in tool.capabilities]
    return candidates[0] if candidates else None


def _depends_on(step_input: Any) -> list[int]:
    from orchestration.engine.references import references_of

    return sorted(references_of(step_input))


def plan_with_rules(request_text: str, today: date | None = None) -> dict[str, Any]:
    """A plan for the request, or NoToolForRequest saying what could not be served."""
    draft = Draft(text=" ".join(request_text.split()), entities=extract(request_text, today))
    for stage in (Stage.SOURCE, Stage.TRANSFORM, Stage.SINK):
        for intent in (intent for intent in INTENTS if intent.stage == stage and intent.applies(draft)):
            reason = intent.unavailable()
            tool = _tool_for(intent.capability)
            if reason:
                raise NoToolForRequest(reason)
            if tool is None:
                raise NoToolForRequest(f"No installed tool can {intent.name}.")
            step_input = intent.build(draft)
            draft.steps.append(
                {
                    "number": len(draft.steps) + 1,
                    "tool": tool,
                    "input": step_input,
                    "depends_on": _depends_on(step_input),
                    "description": intent.name[:1].upper() + intent.name[1:],
                }
            )
            draft.numbers[intent.name] = len(draft.steps)
    _check_complete(draft)
    return {"steps": draft.steps, "entities": draft.entities.as_dict()}


def _check_complete(draft: Draft) -> None:
    asks_for_analysis = re.search(SUMMARISE, draft.text, re.I)
    if asks_for_analysis and not (draft.entities.mentions_files or "fetch a web page" in draft.numbers):
        raise NoToolForRequest("Say which files to use, e.g. 'the sales CSV files' or 'q1.csv'.")
    if not draft.steps:
        capabilities = sorted({cap for tool in registry.all() for cap in tool.capabilities})
        raise NoToolForRequest("No tool can serve this request. Installed tools can: " + ", ".join(capabilities) + ".")
    if "write a report" in draft.numbers and not draft.steps[draft.numbers["write a report"] - 1]["input"]["sections"]:
        raise NoToolForRequest("Say what to work on, e.g. 'write a report on the sales CSV files'.")
