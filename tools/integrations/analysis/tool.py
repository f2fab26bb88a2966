"""Analysis tools: describe tabular files and summarise text.

`analysis.describe` profiles CSV and JSON files column by column so that a
report (or a person) can quote real figures. Type inference is deliberately
plain and predictable:

- missing: empty cells and NA, N/A, null, none, nan, "-" (any case);
- integer: digits with an optional sign; a leading zero ("007") is text,
  because such values are identifiers, not quantities;
- number: decimals and exponents; thousands separators are understood only
  in the English form ("1,234.50": groups of exactly three digits), and an
  optional leading currency sign ($ € £ ¥) is dropped. Decimal commas
  ("1.234,50", "3,5") are left as text rather than guessed;
- boolean: true/false/yes/no; date: ISO 8601 (2024-03-01, with optional time);
- text: anything else, and any column whose values mix these kinds.

(`analysis.summarise` works on prose and uses the language model when one
is configured, so it lives with the llm tools in tools/integrations/llm/tool.py.)
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from datetime import date
from typing import Any

from tools.base import Stage, Tool, ToolCall, ToolError, ToolInputError, ToolResult
from tools.drive import WorkspaceDrive
from tools.integrations.drive.tool import FILE_REF_SCHEMA, drive_errors, file_names, fingerprint_files

__all__ = ["AnalysisDescribe", "describe_table"]

MAX_DATA_BYTES = 50 * 1024 * 1024
TOP_VALUES = 5
FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json"}
MISSING = {"", "na", "n/a", "null", "none", "nan", "-"}
BOOLEANS = {"true": True, "false": False, "yes": True, "no": False}
CURRENCY = "$€£¥"
_INTEGER = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_NUMBER = re.compile(r"[+-]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")

Cell = tuple[str, Any, str]  # (kind, typed value, display text)


def classify(raw: Any) -> Cell | None:
    """A cell's kind and typed value, or None when it is missing."""
    if raw is None or (isinstance(raw, float) and not math.isfinite(raw)):
        return None
    if isinstance(raw, bool):
        return ("boolean", raw, str(raw).lower())
    if isinstance(raw, int):
        return ("integer", raw, str(raw))
    if isinstance(raw, float):
        return ("number", raw, repr(raw))
    if isinstance(raw, list | dict):
        text = json.dumps(raw, sort_keys=True, ensure_ascii=False)
        return ("text", text, text)
    text = str(raw).strip()
    lowered = text.lower()
    if lowered in MISSING:
        return None
    if lowered in BOOLEANS:
        return ("boolean", BOOLEANS[lowered], text)
    number = _as_number(text)
    if number is not None:
        return ("integer" if isinstance(number, int) else "number", number, text)
    if _DATE.fullmatch(text):
        try:
            date.fromisoformat(text[:10])
        except ValueError:
            return ("text", text, text)
        return ("date", text, text)
    return ("text", text, text)


def _as_number(text: str) -> int | float | None:
    sign = ""
    if text[:1] in "+-":
        sign, text = text[0], text[1:]
    if text[:1] and text[0] in CURRENCY:
        text = text[1:]
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if _INTEGER.fullmatch(text):
        return int(sign + text)
    if _NUMBER.fullmatch(text):
        value = float(sign + text)
        return value if math.isfinite(value) else None
    return None


def _column_type(kinds: set[str]) -> str:
    if not kinds:
        return "text"
    if len(kinds) == 1:
        return next(iter(kinds))
    return "number" if kinds <= {"integer", "number"} else "text"


def _round(value: float) -> float:
    return round(value, 6)


def describe_column(cells: list[Any]) -> dict[str, Any]:
    """Type, missing count, range, mean, sum, distinct count and top values of one column."""
    present = [cell for cell in map(classify, cells) if cell is not None]
    kind = _column_type({cell[0] for cell in present})
    if kind == "number":
        values: list[Any] = [float(cell[1]) for cell in present]
    elif kind == "text":
        values = [cell[2] for cell in present]
    else:
        values = [cell[1] for cell in present]
    stats: dict[str, Any] = {
        "type": kind,
        "missing": len(cells) - len(present),
        "min": None,
        "max": None,
        "mean": None,
        "sum": None,
        "distinct": len(set(values)),
        "top": [[value, count] for value, count in Counter(values).most_common(TOP_VALUES)],
    }
    if values and kind in {"integer", "number", "date"}:
        stats["min"], stats["max"] = min(values), max(values)
    if values and kind in {"integer", "number"}:
        total = sum(values) if kind == "integer" else _round(math.fsum(values))
        stats["sum"] = total
        stats["mean"] = _round(math.fsum(values) / len(values))
    return stats


def describe_table(name: str, fmt: str, columns: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "format": fmt,
        "rows": len(rows),
        "columns": {column: describe_column([row.get(column) for row in rows]) for column in columns},
    }


def parse_csv(name: str, text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of a CSV file, or ToolInputError naming the file and line."""
    if not text.strip():
        raise ToolInputError(f"{name}: the file is empty.")
    try:
        delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if name.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines are not records
            if header is None:
                header = _header(name, row)
                continue
            if len(row) > len(header) and not any(cell.strip() for cell in row[len(header) :]):
                row = row[: len(header)]  # trailing empty fields, as some spreadsheets export
            if len(row) != len(header):
                raise ToolInputError(
                    f"{name}, line {reader.line_num}: {len(row)} fields where the header has {len(header)}."
                )
            rows.append(dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        raise ToolInputError(f"{name}, line {reader.line_num}: malformed CSV ({exc}).") from None
    return header or [], rows


def _header(name: str, row: list[str]) -> list[str]:
    header = [cell.strip() or f"column_{index + 1}" for index, cell in enumerate(row)]
    duplicates = sorted({column for column in header if header.count(column) > 1})
    if duplicates:
        raise ToolInputError(f"{name}, line 1: duplicate column name(s) {', '.join(duplicates)}.")
    return header


def parse_json(name: str, text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (keys in order of first appearance) and records of a JSON list of objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolInputError(f"{name}, line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg}).") from None
    if not isinstance(data, list):
        raise ToolInputError(f"{name}: expected a JSON list of objects, found a {type(data).__name__}.")
    columns: dict[str, None] = {}
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ToolInputError(f"{name}: item {index + 1} of the list is not an object.")
        columns.update(dict.fromkeys(item))
    return list(columns), data


def _format(name: str) -> str | None:
    dot = name.rfind(".")
    return FORMATS.get(name[dot:].lower()) if dot >= 0 else None


def _totals(tables: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures across files for numeric columns of the same name (e.g. 'revenue' in every month's CSV)."""
    totals: dict[str, dict[str, Any]] = {}
    for table in tables:
        for column, stats in table["columns"].items():
            if stats["type"] not in {"integer", "number"} or stats["sum"] is None:
                continue
            count = table["rows"] - stats["missing"]
            entry = totals.setdefault(column, {"sum": 0, "count": 0, "min": None, "max": None, "files": []})
            entry["sum"] += stats["sum"]
            entry["count"] += count
            entry["min"] = stats["min"] if entry["min"] is None else min(entry["min"], stats["min"])
            entry["max"] = stats["max"] if entry["max"] is None else max(entry["max"], stats["max"])
            entry["files"].append(table["name"])
    for entry in totals.values():
        if isinstance(entry["sum"], float):
            entry["sum"] = _round(entry["sum"])
        entry["mean"] = _round(entry["sum"] / entry["count"]) if entry["count"] else None
    return totals


def _short_summary(table: dict[str, Any]) -> str:
    numeric = [(c, s) for c, s in table["columns"].items() if s["sum"] is not None]
    figures = "; ".join(f"{column} sum {stats['sum']}, mean {stats['mean']}" for column, stats in numeric[:3])
    text = f"{table['name']}: {table['rows']} rows, {len(table['columns'])} columns"
    return f"{text} ({figures})" if figures else text


class AnalysisDescribe(Tool):
    name = "analysis.describe"
    description = (
        "Profile CSV or JSON (list of objects) files from the drive: row counts and, per column, type, missing, "
        "min, max, mean, sum, distinct and top values, plus totals of numeric columns across files."
    )
    stage = Stage.TRANSFORM
    capabilities = ("data.describe", "data.statistics")
    cacheable = True
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "items": FILE_REF_SCHEMA,
                "minItems": 1,
                "description": "Drive paths, or file objects with a 'name' (e.g. drive.search's 'files').",
            }
        },
        "required": ["files"],
        "additionalProperties": False,
    }

    def cache_fingerprint(self, call: ToolCall) -> str:
        """The files' bytes are part of the question: a changed file must never get a cached answer."""
        try:
            names = file_names(call.input.get("files"))
        except ToolInputError:
            return ""  # run() will reject the input; nothing will be cached
        return fingerprint_files(call.drive, names)

    def run(self, call: ToolCall) -> ToolResult:
        names = file_names(call.input["files"])
        drive = call.drive
        tables: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for done, name in enumerate(names):
            if call.is_cancelled():
                raise ToolError("The analysis was cancelled.")
            fmt = _format(name)
            if fmt is None:
                skipped.append({"name": name, "reason": "not a CSV or JSON file"})
                continue
            text = _read_data(drive, name)
            columns, rows = parse_csv(name, text) if fmt == "csv" else parse_json(name, text)
            tables.append(describe_table(name, fmt, columns, rows))
            call.report_progress({"files_done": done + 1, "files_total": len(names)})
        if not tables:
            raise ToolInputError(f"None of the files is a CSV or JSON file: {', '.join(names)}")
        output: dict[str, Any] = {"files": tables, "totals": _totals(tables)}
        if skipped:
            output["skipped"] = skipped
        rows = sum(table["rows"] for table in tables)
        return ToolResult(
            output=output,
            shared={f"analysis.{table['name']}": _short_summary(table) for table in tables},
            summary=f"Described {len(tables)} file(s), {rows} rows in all",
        )


def _read_data(drive: WorkspaceDrive, name: str) -> str:
    with drive_errors():
        if drive.exists(name) and drive.stat(name).size > MAX_DATA_BYTES:
            raise ToolInputError(f"{name}: larger than {MAX_DATA_BYTES // (1024 * 1024)} MB, too big to analyse.")
        data = drive.read_bytes(name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ToolInputError(f"{name}, line {line}: not UTF-8 text.") from None
