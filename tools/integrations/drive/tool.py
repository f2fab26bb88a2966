"""Drive tools: find, read and write files in the workspace's drive.

These are the sources of most plans ("the sales CSVs in our drive") and the
sink for reports. Drive errors (a bad name, a missing file) become
`ToolInputError`s, since a retry cannot fix them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tools.base import Stage, Tool, ToolCall, ToolError, ToolInputError, ToolResult
from tools.drive import DriveError, WorkspaceDrive, clean_name

# Text reads are for agents and prompts, not bulk data: larger files are refused.
MAX_TEXT_BYTES = 5 * 1024 * 1024

# A file reference: a drive name, or an object with one (e.g. a drive.search result entry).
FILE_REF_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]},
    ]
}
PATTERN_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "A glob matched against the drive path or the base name, case-insensitively, e.g. '*sales*.csv'.",
}


@contextmanager
def drive_errors() -> Iterator[None]:
    """Turn the drive's errors into the tool contract's: a bad name or a missing file is bad input."""
    try:
        yield
    except DriveError as exc:
        raise ToolInputError(str(exc)) from None


def file_names(refs: Any) -> list[str]:
    """Clean drive names from a list of file references, in order and without duplicates."""
    if isinstance(refs, str | dict):
        refs = [refs]
    names: list[str] = []
    for ref in refs or []:
        name = ref.get("name") if isinstance(ref, dict) else ref
        if not isinstance(name, str):
            raise ToolInputError(f"Not a file reference: {ref!r}")
        with drive_errors():
            name = clean_name(name)
        if name not in names:
            names.append(name)
    if not names:
        raise ToolInputError("No files were given.")
    return names


def read_text_file(drive: WorkspaceDrive, name: str) -> str:
    """A drive file as text, refusing binary and oversized files with a message naming the file."""
    with drive_errors():
        if drive.exists(name) and drive.stat(name).size > MAX_TEXT_BYTES:
            megabytes = MAX_TEXT_BYTES // (1024 * 1024)
            raise ToolInputError(f"{name!r} is larger than {megabytes} MB: too big to read as text.")
        data = drive.read_bytes(name)
    if b"\x00" in data:
        raise ToolInputError(f"{name!r} is a binary file, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ToolInputError(f"{name!r} is not UTF-8 text.") from None


def fingerprint_files(drive: WorkspaceDrive, names: list[str]) -> str:
    """sha256 over each file's name and bytes (or its absence), in the given order."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\x00")
        try:
            with drive_errors():
                digest.update(drive.read_bytes(name) if drive.exists(name) else b"\x00missing")
        except ToolInputError:
            digest.update(b"\x00invalid")
        digest.update(b"\x00")
    return digest.hexdigest()


class DriveList(Tool):
    name = "drive.list"
    description = "List the files in the workspace drive (optionally only those matching a glob), with sizes and dates."
    stage = Stage.SOURCE
    capabilities = ("files.list",)
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"pattern": {**PATTERN_SCHEMA, "default": "*"}},
        "additionalProperties": False,
    }

    def run(self, call: ToolCall) -> ToolResult:
        pattern = call.input.get("pattern") or "*"
        files = call.drive.list(pattern)
        return ToolResult(
            output={"files": [file.as_dict() for file in files], "count": len(files)},
            summary=f"{len(files)} file(s) in the drive match {pattern!r}",
        )


class DriveSearch(Tool):
    name = "drive.search"
    description = (
        "Find files in the workspace drive by glob (e.g. '*sales*.csv'), optionally only text files containing "
        "some text; fails if nothing matches."
    )
    stage = Stage.SOURCE
    capabilities = ("files.search",)
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "pattern": {**PATTERN_SCHEMA, "default": "*"},
            "contains": {
                "type": "string",
                "minLength": 1,
                "description": "Keep only text files containing this text (case-insensitive).",
            },
            "newest": {
                "type": "integer",
                "minimum": 1,
                "description": "Keep only this many of the most recently modified matches (e.g. 1 for 'the report').",
            },
        },
        "additionalProperties": False,
    }

    def run(self, call: ToolCall) -> ToolResult:
        pattern = call.input.get("pattern") or "*"
        contains = call.input.get("contains")
        drive = call.drive
        files = drive.list(pattern)
        if contains:
            files = [file for file in files if _contains(drive, file.name, contains)]
        if call.input.get("newest"):
            by_age = sorted(files, key=lambda file: (file.modified_at is not None, file.modified_at), reverse=True)
            files = by_age[: call.input["newest"]]
        if not files:
            # An empty result would flow into an empty report; a clear failure serves people better.
            where = f" containing {contains!r}" if contains else ""
            raise ToolError(f"No files in the drive match {pattern!r}{where}")
        names = [file.name for file in files]
        return ToolResult(
            output={"files": [file.as_dict() for file in files], "count": len(files)},
            shared={"files.found": names},
            summary=f"Found {len(files)} file(s): {', '.join(names[:5])}{'…' if len(names) > 5 else ''}",
        )


def _contains(drive: WorkspaceDrive, name: str, text: str) -> bool:
    """Whether a text file contains the text; binary, undecodable or huge files never do."""
    if drive.stat(name).size > MAX_TEXT_BYTES:
        return False
    data = drive.read_bytes(name)
    if b"\x00" in data:
        return False
    try:
        return text.casefold() in data.decode("utf-8-sig").casefold()
    except UnicodeDecodeError:
        return False


class DriveRead(Tool):
    name = "drive.read"
    description = "Read one or more text files from the workspace drive and return their contents."
    stage = Stage.SOURCE
    capabilities = ("files.read",)
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "description": "The drive path of one file."},
            "names": {"type": "array", "items": FILE_REF_SCHEMA, "minItems": 1},
        },
        "oneOf": [{"required": ["name"]}, {"required": ["names"]}],
        "additionalProperties": False,
    }

    def run(self, call: ToolCall) -> ToolResult:
        names = file_names(call.input["name"] if "name" in call.input else call.input.get("names"))
        drive = call.drive
        files = []
        for name in names:
            text = read_text_file(drive, name)
            files.append({"name": name, "size": len(text.encode("utf-8")), "text": text})
        return ToolResult(output={"files": files}, summary=f"Read {len(files)} file(s)")


class DriveWrite(Tool):
    name = "drive.write"
    locks = "the drive file it writes"
    description = "Write a text file to the workspace drive, replacing any file of the same name."
    stage = Stage.SINK
    capabilities = ("files.write",)
    side_effects = True
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "description": "The drive path to write, e.g. 'notes/a.txt'."},
            "content": {
                "type": ["string", "object", "array"],
                "description": "Text to write; objects and arrays are written as indented JSON.",
            },
        },
        "required": ["name", "content"],
        "additionalProperties": False,
    }

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        try:
            name = clean_name(tool_input.get("name", ""))
        except DriveError:
            return []  # run() will reject the name; there is nothing to lock
        return [f"drive:{workspace_id}:{name}"]

    def run(self, call: ToolCall) -> ToolResult:
        content = call.input["content"]
        text = content if isinstance(content, str) else json.dumps(content, indent=2, ensure_ascii=False)
        drive = call.drive
        with drive_errors():
            name = clean_name(call.input["name"])
            data = text.encode("utf-8")
            # Writing by name is idempotent already; skipping identical content also keeps the file's date.
            if drive.exists(name) and drive.read_bytes(name) == data:
                written = drive.stat(name)
            else:
                written = drive.write_bytes(name, data)
        return ToolResult(
            output={**written.as_dict(), "path": written.name},
            summary=f"Wrote {written.name} ({written.size} bytes)",
        )
