"""Web tools: fetch a page or an API answer, and post data to a web service.

Both go through `tools.http.fetch`, so a plan can only reach public hosts
(plus those in WEB_ALLOWED_HOSTS), whatever URL the planner or a fetched
page puts in front of it. Limits come from settings (WEB_TIMEOUT,
WEB_MAX_BYTES, WEB_MAX_REDIRECTS) and the step's deadline. A 4xx answer is
a result (the status is in the output, the step succeeds); a 5xx, a timeout
or a lost connection is retried by the engine.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from monitoring.tracing import redact
from tools.base import Stage, Tool, ToolCall, ToolInputError, ToolResult
from tools.http import Response, fetch

# Text beyond this is cut: agents and prompts need the gist of a page, not a whole book.
MAX_TEXT_CHARS = 200_000

URL_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "uri",
    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
    "description": "An absolute http(s) URL of a public host, e.g. 'https://example.com/data.json'.",
}
_JSON_TYPE = re.compile(r"^application/([\w.+-]+\+)?json$|^text/json$")
_CHARSET = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
_BINARY_TYPES = (
    "image/",
    "audio/",
    "video/",
    "font/",
    "application/octet-stream",
    "application/pdf",
    "application/zip",
)


def _limits(call: ToolCall, max_bytes: int | None = None) -> dict[str, Any]:
    """fetch()'s limits: the settings, the step's deadline, and a smaller byte limit if the input asks for one."""
    return {
        "timeout": min(settings.WEB_TIMEOUT, call.seconds_left(settings.WEB_TIMEOUT)),
        "max_bytes": min(max_bytes or settings.WEB_MAX_BYTES, settings.WEB_MAX_BYTES),
        "max_redirects": settings.WEB_MAX_REDIRECTS,
    }


def response_output(response: Response) -> dict[str, Any]:
    """The tool output for a response: parsed JSON for JSON content types, else decoded (and maybe cut) text."""
    content_type = response.content_type
    mime = content_type.split(";")[0].strip().lower()
    output: dict[str, Any] = {
        "url": response.url,
        "status": response.status,
        "content_type": content_type,
        "bytes": len(response.content),
        "redirects": response.redirects,
    }
    match = _CHARSET.search(content_type)
    charset = match.group(1) if match else "utf-8"
    if _JSON_TYPE.match(mime) and response.content.strip():
        try:
            output["json"] = json.loads(_decode(response.content, charset), parse_constant=_no_constants)
            return output
        except ValueError:
            pass  # mislabelled: show it as text, which says more than an error
    if mime.startswith(_BINARY_TYPES) or b"\x00" in response.content[:8192]:
        output["binary"] = True  # bytes decoded as text are noise; say what it was instead
        return output
    text = _decode(response.content, charset)
    output["text"] = text[:MAX_TEXT_CHARS]
    if len(text) > MAX_TEXT_CHARS:
        output["truncated"] = True
    return output


def _decode(content: bytes, charset: str) -> str:
    try:
        return content.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name in the header
        return content.decode("utf-8", errors="replace")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity would not survive being stored as JSON


def _host(url: Any) -> str:
    """The URL's host for locks and approvals; "" when it has none (run() will refuse the URL)."""
    try:
        return urlsplit(str(url)).hostname or ""
    except ValueError:
        return ""


class WebGet(Tool):
    name = "web.get"
    description = (
        "Fetch a public http(s) URL with GET and return its status and content: parsed 'json' for JSON answers, "
        "otherwise 'text' (cut at 200,000 characters); 4xx statuses are returned, not errors."
    )
    stage = Stage.SOURCE
    capabilities = ("web.get", "web.fetch")
    cacheable = False  # pages change; a cached answer would hide that
    rate_limit = ("web", "request")
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "url": URL_SCHEMA,
            "max_bytes": {
                "type": "integer",
                "minimum": 1,
                "description": "Fail if the response body is larger than this many bytes (the server caps it too).",
            },
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    def run(self, call: ToolCall) -> ToolResult:
        response = fetch("GET", call.input["url"], **_limits(call, call.input.get("max_bytes")))
        return ToolResult(output=response_output(response), summary=f"GET {response.url} -> {response.status}")


class WebPost(Tool):
    name = "web.post"
    locks = "the web host it posts to"
    description = (
        "Send data to a public http(s) URL with POST (a JSON value in 'json' or text in 'body', optional headers) "
        "and return the answer's status and content; needs a person's approval."
    )
    stage = Stage.SINK
    capabilities = ("web.post",)
    critical = True
    side_effects = True
    rate_limit = ("web", "request")
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "url": URL_SCHEMA,
            "json": {"description": "Any JSON value, sent as the body with Content-Type application/json."},
            "body": {
                "type": "string",
                "description": "Text sent as the body (Content-Type text/plain unless 'headers' sets one).",
            },
            "headers": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"},
                "additionalProperties": {"type": "string"},
                "description": "Extra request headers by name, e.g. {'Accept': 'application/json'}.",
            },
        },
        "required": ["url"],
        "not": {"required": ["json", "body"]},
        "additionalProperties": False,
    }

    def resources(self, tool_input: dict[str, Any], workspace_id: str) -> list[str]:
        host = _host(tool_input.get("url"))
        return [f"web:{host}"] if host else []

    def approval_reason(self, tool_input: dict[str, Any]) -> str | None:
        host = _host(tool_input.get("url")) or "a web service"
        return f"web.post sends data to {host}: a person must approve it."

    def estimate_impact(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        try:
            body, _content_type = _payload(tool_input)
        except ToolInputError:
            body = b""
        return {
            "action": "HTTP POST",
            "target": _host(tool_input.get("url")),
            "bytes": len(body or b""),
            "headers": redact(tool_input.get("headers") or {}),
        }

    def run(self, call: ToolCall) -> ToolResult:
        body, content_type = _payload(call.input)
        given = call.input.get("headers") or {}
        headers = {name: value for name, value in given.items() if name.lower() != "idempotency-key"}
        if content_type and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = content_type
        # The same on every attempt of this step: a server that supports it can drop a resumed step's repeat.
        headers["Idempotency-Key"] = call.idempotency_key
        response = fetch("POST", call.input["url"], headers=headers, body=body, **_limits(call))
        return ToolResult(output=response_output(response), summary=f"POST {response.url} -> {response.status}")


def _payload(tool_input: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """The request body and its default content type, from 'json' or 'body' (at most one)."""
    if "json" in tool_input and "body" in tool_input:
        raise ToolInputError("Give either 'json' or 'body', not both.")
    if "json" in tool_input:
        return json.dumps(tool_input["json"], ensure_ascii=False).encode("utf-8"), "application/json"
    if "body" in tool_input:
        return str(tool_input["body"]).encode("utf-8"), "text/plain; charset=utf-8"
    return None, None
