"""`report.compose`: turn earlier steps' outputs into a Markdown report in the drive.

Sections are whatever earlier steps produced, so rendering is by shape:
an `analysis.describe` output becomes tables, a summary or a chat answer
becomes prose, a file list becomes a list, and anything else is shown as
JSON rather than dropped. Every figure in the report is copied from the
inputs; nothing is recomputed or invented here.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tools import bidi
from tools.base import Stage, Tool, ToolCall, ToolInputError, ToolResult
from tools.drive import DriveError, clean_name
from tools.integrations.drive.tool import drive_errors

PREVIEW_CHARS = 500
RTL_LANGUAGES = frozenset({"he", "ar", "fa"})


def report_filename(tool_input: dict[str, Any]) -> str:
    """The drive path the report goes to: the given filename, or reports/<slug-of-title>.md."""
    filename = tool_input.get("filename") or f"reports/{slugify(str(tool_input.get('title', ''))) or 'report'}.md"
    with drive_errors():
        return clean_name(filename)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(round(value, 4))
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def _is_analysis(section: Any) -> bool:
    files = section.get("files") if isinstance(section, dict) else None
    return isinstance(files, list) and bool(files) and all(isinstance(f, dict) and "columns" in f for f in files)


def _is_file_list(section: Any) -> bool:
    files = section.get("files") if isinstance(section, dict) else None
    return isinstance(files, list) and all(isinstance(f, dict) and "name" in f for f in files)


def render_analysis(section: dict[str, Any]) -> list[str]:
    heading = _("Data")
    lines = [f"## {heading}", ""]
    for table in section["files"]:
        columns = table.get("columns") or {}
        rows_count = int(table.get("rows", 0) or 0)
        shape = ngettext("%(rows)d row", "%(rows)d rows", rows_count) % {"rows": rows_count}
        width = ngettext("%(columns)d column.", "%(columns)d columns.", len(columns)) % {"columns": len(columns)}
        shape = f"{shape}, {width}"
        lines += [f"### {table.get('name', 'file')}", "", shape, ""]
        rows = [
            [name, s.get("type"), s.get("min"), s.get("max"), s.get("mean"), s.get("sum"), s.get("missing")]
            for name, s in columns.items()
        ]
        lines += _table([_("Column"), _("Type"), _("Min"), _("Max"), _("Mean"), _("Sum"), _("Missing")], rows)
    totals = section.get("totals") or {}
    if totals and len(section["files"]) > 1:
        totals_heading = _("Totals across files")
        lines += [f"### {totals_heading}", ""]
        rows = [
            [name, t.get("sum"), t.get("mean"), t.get("min"), t.get("max"), t.get("count"), len(t.get("files", []))]
            for name, t in totals.items()
        ]
        lines += _table([_("Column"), _("Sum"), _("Mean"), _("Min"), _("Max"), _("Values"), _("Files")], rows)
    for skipped in section.get("skipped") or []:
        not_analysed = _("Not analysed: %(name)s (%(reason)s)") % {
            "name": skipped.get("name"),
            "reason": skipped.get("reason"),
        }
        lines += [f"- {not_analysed}"]
    return lines


def render_section(section: Any) -> list[str]:
    """Markdown lines for one earlier output, chosen by its shape."""
    if section is None or section == "" or section == {}:
        return []
    if isinstance(section, str):
        return [section.strip(), ""]
    if isinstance(section, dict):
        if "heading" in section or "title" in section:
            heading = section.get("heading") or section.get("title")
            body = {k: v for k, v in section.items() if k not in {"heading", "title"}}
            inner = body.get("body", body.get("text", body.get("content", body)))
            return [f"## {heading}", "", *_without_heading(render_section(inner))]
        if _is_analysis(section):
            return render_analysis(section)
        if isinstance(section.get("summary"), str):
            heading = _("Summary")
            return [f"## {heading}", "", section["summary"].strip(), ""]
        if isinstance(section.get("content"), str):
            return [section["content"].strip(), ""]
        if isinstance(section.get("text"), str):
            return [section["text"].strip(), ""]
        if _is_file_list(section):
            heading = _("Files")
            lines = [f"## {heading}", ""]
            lines += [f"- {f['name']}" + (f" ({_size(f['size'])})" if "size" in f else "") for f in section["files"]]
            return [*lines, ""]
    if isinstance(section, list) and all(isinstance(item, str) for item in section):
        return [*(f"- {item}" for item in section), ""]
    return ["```json", json.dumps(section, indent=2, ensure_ascii=False, default=str), "```", ""]


def _without_heading(lines: list[str]) -> list[str]:
    """A titled section's body, without the body's own default heading."""
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
        if lines and lines[0] == "":
            lines = lines[1:]
    return lines


def _size(size: Any) -> str:
    count = int(size) if isinstance(size, int | float) else 0
    return ngettext("%(count)d byte", "%(count)d bytes", count) % {"count": count}


def report_language(title: str, language: str | None) -> str:
    """The report's language: as the planner said (the request's), else the title's script."""
    return language or ("he" if bidi.is_rtl(title) else "en")


def render_report(title: str, sections: list[Any], language: str | None = None) -> str:
    """The report in Markdown, its headings in the request's language, right-to-left text marked."""
    language = report_language(title, language)
    with translation.override(language):
        lines = [f"# {title.strip()}", ""]
        for section in sections:
            lines += render_section(section)
        markdown = "\n".join(lines).rstrip() + "\n"
    return bidi.mark_markdown(markdown, rtl=language in RTL_LANGUAGES)


class ReportCompose(Tool):
    name = "report.compose"
    locks = "the report file it writes"
    description = (
        "Write a Markdown report to the drive from earlier outputs (analysis tables, summaries, text); "
        "returns its path and a preview."
    )
    stage = Stage.SINK
    capabilities = ("report.write",)
    side_effects = True
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "sections": {
                "type": "array",
                "minItems": 1,
                "description": "Earlier steps' outputs (e.g. analysis.describe or analysis.summarise) or text.",
            },
            "filename": {
                "type": "string",
                "minLength": 1,
                "description": "Drive path for the report; default reports/<slug-of-title>.md.",
            },
            "language": {
                "type": "string",
                "enum": ["en", "he"],
                "description": "The language of the headings (the request's); default from the title's script.",
            },
        },
        "required": ["title", "sections"],
        "additionalProperties": False,
    }

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        try:
            return [f"drive:{workspace_id}:{report_filename(tool_input)}"]
        except (ToolInputError, DriveError):
            return []

    def run(self, call: ToolCall) -> ToolResult:
        path = report_filename(call.input)
        markdown = render_report(call.input["title"], call.input["sections"], call.input.get("language"))
        with drive_errors():
            written = call.drive.write_text(path, markdown)  # same path: overwritten, so re-runs leave one report
        return ToolResult(
            output={"path": written.name, "bytes": written.size, "preview": markdown[:PREVIEW_CHARS]},
            shared={"report.path": written.name},
            summary=f"Wrote the report {written.name} ({written.size} bytes)",
        )
