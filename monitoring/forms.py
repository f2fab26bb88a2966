"""The monitoring pages' pickers and filters: bad input becomes a form error, never a crash."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.dashboard import DEFAULT_RANGE, RANGES
from monitoring.logsearch import LEVEL_ORDER, LogFilters
from tenancy.models import Workspace


def _workspace_choices(workspaces: list[Workspace]) -> list[tuple[str, str]]:
    return [("", "All my workspaces"), *((str(ws.pk), ws.name) for ws in workspaces)]


class DashboardForm(forms.Form):
    workspace = forms.ChoiceField(required=False, label=_("Workspace"))
    range = forms.ChoiceField(
        required=False, label=_("Time range"), choices=[(key, r.label) for key, r in RANGES.items()]
    )

    def __init__(self, *args: Any, workspaces: list[Workspace], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspaces = workspaces
        workspace = self.fields["workspace"]
        assert isinstance(workspace, forms.ChoiceField)
        workspace.choices = _workspace_choices(workspaces)

    def chosen(self) -> tuple[list[uuid.UUID], str]:
        """The workspace ids to show and the range key; an invalid choice falls back to all / the default."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        workspace = data.get("workspace") or ""
        ids = [uuid.UUID(workspace)] if workspace else [ws.pk for ws in self.workspaces]
        return ids, data.get("range") or DEFAULT_RANGE


class LogFilterForm(forms.Form):
    workspace = forms.ChoiceField(required=False, label=_("Workspace"))
    execution = forms.UUIDField(required=False, label=_("Execution id"))
    level = forms.ChoiceField(
        required=False,
        label=_("Level"),
        choices=[("", _("Any level")), *((str(lv), f"{lv} and above") for lv in LEVEL_ORDER)],
    )
    source = forms.CharField(required=False, max_length=100, label=_("Source"))
    q = forms.CharField(required=False, max_length=200, label=_("Text"))
    since = forms.DateTimeField(
        required=False, label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, workspaces: list[Workspace], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workspace = self.fields["workspace"]
        assert isinstance(workspace, forms.ChoiceField)
        workspace.choices = _workspace_choices(workspaces)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            self.add_error("until", _("Until must be after From."))
        return data

    def filters(self) -> LogFilters:
        data = self.cleaned_data
        return LogFilters(
            workspace_id=uuid.UUID(data["workspace"]) if data.get("workspace") else None,
            execution_id=data.get("execution"),
            level=data.get("level") or "",
            source=(data.get("source") or "").strip(),
            text=(data.get("q") or "").strip(),
            since=data.get("since"),
            until=data.get("until"),
        )
