from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

CHOOSE = _("Choose Approve or Reject.")


class DecisionForm(forms.Form):
    """A person's decision on one pending approval, from the queue's row form."""

    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))],
        error_messages={"required": CHOOSE, "invalid_choice": CHOOSE},
    )
    comment = forms.CharField(
        required=False,
        max_length=2000,
        error_messages={"max_length": _("Keep the comment to %(limit_value)d characters.")},
    )

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"

    def error_text(self) -> str:
        return " ".join(str(message) for errors in self.errors.values() for message in errors)
