from __future__ import annotations

from typing import Any

from django import forms

from tenancy.access import workspaces_for


class SwitchWorkspaceForm(forms.Form):
    workspace = forms.ModelChoiceField(
        queryset=None, error_messages={"invalid_choice": "You are not a member of that workspace."}
    )
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = workspaces_for(user)
