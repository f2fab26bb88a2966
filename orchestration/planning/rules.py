"""The built-in rule planner: no model needed.

It asks the understanding step what the request wants (intents and
entities), then builds the plan source -> transform -> sink: find or fetch
what to work on, analyse it, then write a report, send mail, book an event.
Each step is the registered tool with the capability the intent needs, and
takes its input from the steps it consumes.

When the request misses a detail (which files, when, to whom) the planner
asks (`NeedsAnswer`); when nothing installed can serve it, it says what the
tools can do (`NoToolForRequest`).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from orchestration.planning.named import capable_tool_plan, named_tool_plan
from orchestration.planning.questions import NeedsAnswer
from orchestration.planning.understanding import Understanding, understand
from tools.base import Tool
from tools.integrations.llm.client import llm_configured
from tools.registry import registry

__all__ = ["NeedsAnswer", "NoToolForRequest", "plan_with_rules"]

DEFAULT_EVENT_MINUTES = 60
TEXT_EXTENSIONS = (".txt", ".md", ".markdown", ".log")


class NoToolForRequest(ValueError):
    """Nothing installed can serve the request; the message says what was missing."""


@dataclass
class Draft:
    """The plan being built."""

    request: Understanding
    tools: Sequence[Tool]  # the tools this plan may use (a workspace may have switched some off)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def tool_for(self, capability: str) -> str | None:
        return _tool_for(capability, self.tools)

    def add(self, capability: str, step_input: dict[str, Any], description: str) -> int:
        tool = self.tool_for(capability)
        if tool is None:
            what = {"what": description[:1].lower() + description[1:]}  # "send the e-mail"
            if _tool_for(capability, registry.all()) is not None:
                raise NoToolForRequest(_("No tool enabled in this workspace can %(what)s.") % what)
            raise NoToolForRequest(_("No installed tool can %(what)s.") % what)
        number = len(self.steps) + 1
        self.steps.append(
            {
                "number": number,
                "tool": tool,
                "input": step_input,
                "depends_on": _depends_on(step_input),
                "description": description,
            }
        )
        return number


def _tool_for(capability: str, tools: Iterable[Tool]) -> str | None:
    candidates = [tool.name for tool in tools if capability in tool.capabilities]
    return candidates[0] if candidates else None


def _depends_on(step_input: Any) -> list[int]:
    from orchestration.engine.references import references_of

    return sorted(references_of(step_input))


def capabilities_message(tools: Iterable[Tool] | None = None) -> str:
    capabilities = sorted({cap for tool in (registry.all() if tools is None else tools) for cap in tool.capabilities})
    return _(
        "No tool can serve this request: I could not tell what to do with it. Installed tools can: "
        "%(capabilities)s. For example: 'summarise the sales CSV files and e-mail the results to "
        "team@example.com', 'book a review meeting tomorrow at 10'."
    ) % {"capabilities": ", ".join(capabilities)}


def plan_with_rules(
    request_text: str,
    today: date | None = None,
    *,
    now: datetime | None = None,
    answers: dict[str, str] | None = None,
    me: str | None = None,
    drive_names: Sequence[str] | None = None,
    tools: Sequence[Tool] | None = None,
) -> dict[str, Any]:
    """A plan for the request; NeedsAnswer for a missing detail, NoToolForRequest for what no tool serves.

    `me` is the address of the person asking ("e-mail me ..."); `drive_names`
    are the workspace's files, when known, so a search that would find
    nothing is a question now rather than a failure later. `tools` are the
    tools the plan may use (default: every registered one).
    """
    usable = list(registry.all()) if tools is None else list(tools)
    named = named_tool_plan(request_text, usable)
    if named is not None:
        return named
    if now is None:
        now = datetime.combine(today, time(0, 0)) if today else datetime.now().replace(microsecond=0)
    request = understand(request_text, now=now, answers=answers)
    # Step names and questions in the language of the request, whatever the console's language.
    with translation.override(request.language.code):
        return _plan(request, me, drive_names, usable)


def _plan(
    request: Understanding, me: str | None, drive_names: Sequence[str] | None, usable: list[Tool]
) -> dict[str, Any]:
    if not request.intents:
        capable = capable_tool_plan(request.original, usable)
        if capable is not None:
            return capable
        raise NoToolForRequest(capabilities_message(usable))
    if request.wants("model") and not llm_configured():
        raise NoToolForRequest(
            _(
                "This request needs a language model: set LLM_BASE_URL. Without one I can work on drive files, "
                "web pages, e-mail and the calendar."
            )
        )
    draft = Draft(request, usable)
    sources = _sources(draft, drive_names)
    products = _transforms(draft, sources, drive_names)
    _sinks(draft, sources, products, me)
    if not draft.steps:
        raise NoToolForRequest(capabilities_message(usable))
    return {
        "steps": draft.steps,
        "entities": request.entities.as_dict(),
        "intents": sorted(request.intents),
        "language": request.language.code,
    }


@dataclass
class Sources:
    files: Any = None  # names, or a reference to a search's files
    search: int | None = None
    page: int | None = None
    listing: int | None = None  # drive.list or calendar.list_events
    existing_report: int | None = None


def _sources(draft: Draft, drive_names: Sequence[str] | None) -> Sources:
    request, entities = draft.request, draft.request.entities
    found = Sources()
    if request.wants("fetch"):
        found.page = draft.add("web.get", {"url": entities.urls[0]}, _("Fetch the web page"))
    if request.wants("calendar_list"):
        listing: dict[str, Any] = {}
        start = entities.first_datetime()
        if start is not None and entities.dates:
            day = datetime.combine(start.date(), time(0, 0))
            listing = {"start": day.isoformat(), "end": day.replace(hour=23, minute=59).isoformat()}
        found.listing = draft.add("calendar.list_events", listing, _("List the calendar's events"))
    wants_files = (
        request.wants("analyse")
        or request.wants("report")
        or request.wants("list")
        or (request.wants("mail") and entities.mentions_files)
    )
    other_material = found.page is not None or found.listing is not None
    if request.wants("report_existing") and not request.wants("report"):
        qualifier = request.report_qualifier
        pattern = "reports/*" + ("*".join(qualifier) + "*" if qualifier else "")
        every = request.language.phrases(request.language.all_words).search(request.text)
        found.existing_report = draft.add(
            "files.search", {"pattern": pattern} if every else {"pattern": pattern, "newest": 1}, _("Find the report")
        )
        return found
    if not wants_files or (other_material and not entities.mentions_files):
        return found
    if entities.file_names and not entities.file_patterns:
        resolved = [_in_drive(name, drive_names) for name in entities.file_names]
        missing = [name for name, path in zip(entities.file_names, resolved, strict=True) if path is None]
        if missing:
            raise NeedsAnswer(
                "files",
                _("There is no %(names)s in the drive. Which files should I use?") % {"names": ", ".join(missing)},
                hint=_("file names, e.g. 'sales_q1.csv, sales_q2.csv', or 'all CSV files'"),
            )
        found.files = [path for path in resolved if path is not None]
        return found
    if entities.file_patterns:
        pattern = entities.file_patterns[0]
        if drive_names is not None and not _matches(pattern, drive_names):
            raise NeedsAnswer(
                "files",
                _("No file in the drive matches “%(pattern)s”. Which files should I use?") % {"pattern": pattern},
                hint=_("file names, e.g. 'sales_q1.csv, sales_q2.csv', or 'all CSV files'"),
            )
        search: dict[str, Any] = {"pattern": pattern}
        if entities.contains and request.wants("list"):
            search["contains"] = entities.contains
        found.search = draft.add("files.search", search, _("Find the files"))
        found.files = {"$step": found.search, "path": "files"}
        return found
    if request.wants("list") and not (request.wants("analyse") or request.wants("report")):
        if entities.contains:
            found.search = draft.add(
                "files.search", {"pattern": "*", "contains": entities.contains}, _("Find the files")
            )
        else:
            found.listing = draft.add("files.list", {}, _("List the drive's files"))
        return found
    if request.wants("analyse") or request.wants("report"):
        raise NeedsAnswer(
            "files",
            _("Which files should I use?"),
            hint=_("file names, e.g. 'sales_q1.csv, sales_q2.csv', or 'all CSV files'"),
        )
    return found


def _in_drive(name: str, drive_names: Sequence[str] | None) -> str | None:
    """The drive path a file named in the request means: itself, or the one file in a folder with that name.

    Without the drive's listing the name is taken as written.
    """
    if drive_names is None:
        return name
    wanted = name.lower()
    exact = [path for path in drive_names if path.lower() == wanted]
    if exact:
        return exact[0]
    in_folders = [path for path in drive_names if posixpath.basename(path).lower() == posixpath.basename(wanted)]
    return in_folders[0] if len(in_folders) == 1 else None


def _matches(pattern: str, names: Sequence[str]) -> list[str]:
    pattern = pattern.lower()
    return [
        name
        for name in names
        if fnmatch.fnmatch(name.lower(), pattern) or fnmatch.fnmatch(posixpath.basename(name).lower(), pattern)
    ]


def _kind(draft: Draft, drive_names: Sequence[str] | None) -> str:
    """Data (CSV/JSON, described) or text (summarised): as named, else as the drive's files are, else data."""
    entities = draft.request.entities
    if entities.file_format:
        return "text" if entities.file_format == "text" else "data"
    names = list(entities.file_names)
    if not names and drive_names is not None and entities.file_patterns:
        names = _matches(entities.file_patterns[0], drive_names)
    if names and all(name.lower().endswith(TEXT_EXTENSIONS) for name in names):
        return "text"
    return "data"


def _transforms(draft: Draft, sources: Sources, drive_names: Sequence[str] | None) -> list[int]:
    request = draft.request
    products: list[int] = []
    # A report on files needs something said about them: the analysis is implied.
    if request.wants("analyse") or (request.wants("report") and sources.page is None and sources.listing is None):
        if sources.files is not None:
            if _kind(draft, drive_names) == "text":
                products.append(draft.add("text.summarise", {"files": sources.files}, _("Summarise the text")))
            else:
                products.append(draft.add("data.describe", {"files": sources.files}, _("Describe the data")))
        elif sources.page is not None:
            text = {"$step": sources.page, "path": "text"}
            products.append(draft.add("text.summarise", {"text": text}, _("Summarise the page")))
    if request.wants("model"):
        products.append(draft.add("llm.chat", {"prompt": request.original}, _("Ask the language model")))
    return products


def _sinks(draft: Draft, sources: Sources, products: list[int], me: str | None) -> None:
    request = draft.request
    model = next((n for n in products if draft.steps[n - 1]["tool"] == draft.tool_for("llm.chat")), None)
    material = [n for n in products if n != model] or [
        n for n in (sources.page, sources.listing, sources.search) if n is not None
    ]
    report: int | None = None
    # Mail that sends "the results" of an analysis sends them as a report, attached.
    implicit_report = request.wants("mail") and bool([n for n in products if n != model] or sources.page)
    if request.wants("report") or implicit_report:
        if not material and sources.files is not None and not isinstance(sources.files, dict):
            material = [draft.add("data.describe", {"files": sources.files}, _("Describe the data"))]
        if not material:
            raise NeedsAnswer(
                "files",
                _("What should the report be about? Which files should I use?"),
                hint=_("file names, e.g. 'sales_q1.csv', or 'the sales CSV files'"),
            )
        title = _title(request)
        report = draft.add(
            "report.write",
            {
                "title": title,
                "sections": [{"$step": number} for number in material],
                "filename": f"reports/{slugify(title, allow_unicode=True)[:60] or 'report'}.md",
                "language": request.language.code,
            },
            _("Write the report"),
        )
    # Mail and events in the order the request says them.
    sinks = [name for name in ("schedule", "mail") if request.wants(name)]
    for name in sorted(sinks, key=lambda name: _position(request, name)):
        if name == "schedule":
            _event(draft)
        else:
            _mail(draft, sources, report, model, me)


def _position(request: Understanding, intent: str) -> int:
    language = request.language
    found = language.intent(intent).search(request.text)
    if found is None and intent == "schedule":
        found = language.phrases(language.event_nouns).search(request.text)
    return found.start() if found else len(request.text)


def _event(draft: Draft) -> None:
    request = draft.request
    start = request.entities.first_datetime()
    if start is None:
        raise NeedsAnswer(
            "when", _("When should it be?"), hint=_("a date and time, e.g. 'tomorrow at 10' or '15 Dec 14:00'")
        )
    duration = request.entities.duration_minutes or (
        request.language.reminder_minutes if request.reminder else DEFAULT_EVENT_MINUTES
    )
    draft.add(
        "calendar.create_event",
        {
            "summary": (request.event_name or request.language.default_event_name)[:255],
            "start": start.isoformat(),
            "duration_minutes": min(duration, 7 * 24 * 60),
            "attendees": [] if request.wants("mail") else request.entities.emails,
            "description": (_("Scheduled by Orchestrate for the request: %(request)s") % {"request": request.original})[
                :10000
            ],
        },
        _("Book the event"),
    )


def _mail(draft: Draft, sources: Sources, report: int | None, model: int | None, me: str | None) -> None:
    request = draft.request
    to = list(request.recipients)
    if request.to_self and me and me not in to:
        to.append(me)
    if not to:
        raise NeedsAnswer("to", _("Who should get the e-mail?"), hint=_("one or more e-mail addresses"))
    attachments: Any = []
    if report is not None:
        attachments = [{"$step": report}]
    elif sources.existing_report is not None:
        attachments = {"$step": sources.existing_report, "path": "files"}
    elif sources.search is not None:
        attachments = {"$step": sources.search, "path": "files"}
    elif isinstance(sources.files, list):
        attachments = sources.files
    subject = _title(request) if report is not None else _subject(request)
    body: Any = (
        {"$step": model, "path": "content"}
        if model is not None
        else request.message
        or _("Hello,\n\nThis was sent by Orchestrate for the request:\n\n    %(request)s\n")
        % {"request": request.original}
    )
    draft.add(
        "email.send",
        {"to": to, "subject": subject, "body": body, "attachments": attachments},
        _("Send the e-mail"),
    )


def _subject(request: Understanding) -> str:
    if request.message:
        return request.message.rstrip(".")[:80]
    return _("From Orchestrate: %(request)s") % {"request": request.original[:80]}


def _title(request: Understanding) -> str:
    """The request's first clause: "Summarise the sales CSV files" of "... and book a review"."""
    language = request.language
    subject = re.split(language.title_split, request.original.strip(), flags=re.I)[0]
    subject = re.sub(language.title_polite, "", subject.rstrip(".!? "), flags=re.I)
    return (subject[:1].upper() + subject[1:])[:80] or _("Report")
