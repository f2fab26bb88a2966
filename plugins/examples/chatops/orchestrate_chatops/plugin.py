"""The chatops plugin: a CSV-to-JSON tool and a run summary posted to a chat webhook."""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePosixPath
from typing import Any

from plugins.contract import HookEvent, OrchestratePlugin
from tools.base import Stage, Tool, ToolCall, ToolInputError, ToolResult
from tools.drive import DriveError
from tools.http import fetch

MAX_CSV_BYTES = 20 * 1024 * 1024
WEBHOOK_TIMEOUT = 4.0


class CsvToJson(Tool):
    name = "csv.to_json"
    description = "Convert a CSV file in the drive to a JSON file: a list of objects, one per row, keyed by the header."
    version = "1"
    input_schema = {
        "type": "object",
        "properties": {
            "file": {"type": "string", "description": "The CSV file in the drive"},
            "output": {"type": "string", "description": "The JSON file to write (default: the CSV's name, .json)"},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
        },
        "required": ["file"],
        "additionalProperties": False,
    }
    capabilities = ("convert csv to json",)
    stage = Stage.TRANSFORM

    def run(self, call: ToolCall) -> ToolResult:
        source = call.input["file"]
        target = call.input.get("output") or str(PurePosixPath(source).with_suffix(".json"))
        if target == source:
            raise ToolInputError("The JSON file must not overwrite the CSV file.")
        try:
            data = call.drive.read_bytes(source)
            if len(data) > MAX_CSV_BYTES:
                raise ToolInputError(f"{source!r} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.")
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ToolInputError(f"{source!r} is not UTF-8 text.") from None
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=call.input.get("delimiter", ","))
            try:
                rows = [{key: value for key, value in row.items() if key is not None} for row in reader]
            except csv.Error as exc:
                raise ToolInputError(f"{source!r} is not valid CSV: {exc}") from None
            columns = list(reader.fieldnames or [])
            if not columns:
                raise ToolInputError(f"{source!r} has no header row.")
            written = call.drive.write_text(target, json.dumps(rows, ensure_ascii=False, indent=2))
        except DriveError as exc:
            raise ToolInputError(str(exc)) from None
        return ToolResult(
            output={"path": written.name, "rows": len(rows), "columns": columns},
            summary=f"Converted {source} to {written.name} ({len(rows)} rows)",
        )


class ChatOps(OrchestratePlugin):
    name = "chatops"
    version = "1.0.0"
    orchestrate_versions = ">=0.1,<1"
    description = "CSV to JSON, and run summaries posted to a chat incoming webhook."
    settings_schema = {
        "type": "object",
        "properties": {
            "webhook_url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
            "console_url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
        },
        "additionalProperties": False,
    }
    hooks = {"run_finished": 100}
    tools = (CsvToJson,)

    def on_run_finished(self, event: HookEvent) -> None:
        url = event.settings.get("webhook_url")
        if not url:
            return
        response = fetch(
            "POST",
            url,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"text": summary_text(event)}).encode(),
            timeout=WEBHOOK_TIMEOUT,
            max_bytes=64 * 1024,
            max_redirects=0,
        )
        if response.status >= 400:
            raise RuntimeError(f"the webhook answered HTTP {response.status}")


def summary_text(event: HookEvent) -> str:
    run: dict[str, Any] = event.data
    seconds = int(run.get("duration_ms", 0)) / 1000
    text = (
        f"Orchestrate run {run.get('status')}: {run.get('current_step')}/{run.get('total_steps')} steps,"
        f" {run.get('error_count', 0)} failed, {seconds:.1f}s, {run.get('tokens_used', 0)} tokens."
    )
    console = event.settings.get("console_url")
    if console:
        text += f" {console.rstrip('/')}/orchestrate/executions/{event.execution_id}/"
    return text
