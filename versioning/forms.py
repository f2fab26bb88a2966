"""The plan editor: one form per step (tool, input, dependencies, optional), plus a note."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from orchestration.planning.schema import plannable_tools

MAX_INPUT = 20000


class StepForm(forms.Form):
    tool = forms.ChoiceField(label=_("Tool"))
    input = forms.CharField(
        label=_("Input"),
        max_length=MAX_INPUT,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("JSON object"),
    )
    depends_on = forms.CharField(
        label=_("Depends on"), required=False, max_length=200, help_text=_("Step numbers, e.g. 1, 2")
    )
    optional = forms.BooleanField(label=_("Optional"), required=False)
    description = forms.CharField(label=_("Description"), required=False, max_length=500)

    def __init__(self, *args: Any, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tools = [("", "—")] + [(tool.name, tool.name) for tool in plannable_tools(workspace)]
        cast(forms.ChoiceField, self.fields["tool"]).choices = tools

    def clean_input(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["input"] or "{}")
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("Not valid JSON: %(problem)s (line %(line)d).") % {"problem": exc.msg, "line": exc.lineno}
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_('A step\'s input is a JSON object, like {"files": ["a.csv"]}.'))
        return value

    def clean_depends_on(self) -> list[int]:
        text = self.cleaned_data["depends_on"].replace(",", " ").split()
        if not all(part.isdigit() for part in text):
            raise forms.ValidationError(_("Step numbers separated by commas, e.g. 1, 2."))
        return [int(part) for part in text]


class BaseStepFormSet(forms.BaseFormSet):
    def steps(self) -> list[dict[str, Any]]:
        """The kept steps, numbered 1..N in the order shown (the validator checks the rest)."""
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("tool")
        ]
        return [
            {
                "number": number,
                "tool": data["tool"],
                "input": data["input"],
                "depends_on": data["depends_on"],
                "optional": data["optional"],
                "description": data["description"],
            }
            for number, data in enumerate(kept, start=1)
        ]


StepFormSet = forms.formset_factory(StepForm, formset=BaseStepFormSet, extra=1, can_delete=True, max_num=50)


def initial_steps(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "tool": step.get("tool", ""),
            "input": json.dumps(step.get("input", {}), indent=1, ensure_ascii=False),
            "depends_on": ", ".join(str(n) for n in step.get("depends_on", [])),
            "optional": bool(step.get("optional")),
            "description": step.get("description", ""),
        }
        for step in plan.get("steps", [])
    ]


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=300, help_text=_("What this version changes"))
