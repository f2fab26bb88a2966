"""Forms of the MCP server pages: register a server; choose which of its tools are safe."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from tools.models import ToolCatalog
from tools_mcp.models import SERVER_NAME, Transport

MAX_HEADERS = 20


class ServerForm(forms.Form):
    name = forms.CharField(max_length=40, validators=[SERVER_NAME], help_text="Its tools are named mcp.<name>.<tool>.")
    transport = forms.ChoiceField(choices=Transport.choices)
    command = forms.CharField(
        max_length=1000,
        required=False,
        help_text="stdio: the command line that starts the server, e.g. mcp-server-git --repository /srv/repo",
    )
    url = forms.CharField(max_length=500, required=False, label="URL", help_text="http: the MCP endpoint")
    headers = forms.CharField(
        required=False,
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="http: one 'Name: value' per line (e.g. an API key). Stored encrypted, never shown again.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = settings.ORCHESTRATE_MCP_STDIO_COMMANDS
        if allowed:
            self.fields["command"].help_text += f" (allowed programs: {', '.join(allowed)})"
        else:
            self.fields["command"].help_text += " (this installation allows no stdio commands)"

    def clean_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for line in self.cleaned_data["headers"].splitlines():
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon or not name or not value or not all(c.isalnum() or c in "-_" for c in name):
                raise forms.ValidationError("Write one header per line as 'Name: value'.")
            headers[name] = value
        if len(headers) > MAX_HEADERS:
            raise forms.ValidationError(f"At most {MAX_HEADERS} headers.")
        return headers

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("transport") == Transport.STDIO and not data.get("command", "").strip():
            self.add_error("command", "Give the command that starts the server.")
        if data.get("transport") == Transport.HTTP and not data.get("url", "").strip():
            self.add_error("url", "Give the server's URL.")
        return data


class SafeToolsForm(forms.Form):
    """One box per tool: ticked means calls run without a person's approval.

    A tool the workspace has not marked but whose server hints it only reads
    (readOnlyHint) starts ticked, as a suggestion: nothing is granted until
    the form is saved.
    """

    def __init__(self, tools: list[ToolCatalog], marked: set[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marked = marked
        self.suggested: set[str] = set()
        for row in tools:
            hints = (row.metadata or {}).get("annotations") or {}
            suggested = row.name not in marked and bool(hints.get("readOnlyHint")) and not marked
            if suggested:
                self.suggested.add(row.name)
            self.fields[row.name] = forms.BooleanField(
                required=False, label=row.name, initial=row.name in marked or suggested
            )

    def safe_names(self) -> set[str]:
        return {name for name, ticked in self.cleaned_data.items() if ticked}
