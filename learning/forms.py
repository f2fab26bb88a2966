"""Forms of the learning pages: a rating, a new A/B test, a new prompt version."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from learning.services.feedback import MAX_COMMENT
from learning.services.prompts import MAX_PROMPT


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(n, f"{n} - {label}") for n, label in enumerate(["poor", "weak", "fair", "good", "excellent"], 1)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(required=False, max_length=MAX_COMMENT, widget=forms.Textarea(attrs={"rows": 2}))


class ABTestForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="Left empty: named after the variants")
    variant_a = forms.ChoiceField(label=_("Variant A (the control)"))
    variant_b = forms.ChoiceField(label=_("Variant B (the candidate)"))
    traffic_split = forms.FloatField(
        min_value=0.01, max_value=0.99, initial=0.5, help_text="Share of matching runs given B"
    )
    min_sample = forms.IntegerField(min_value=1, max_value=10000, initial=20, help_text="Finished runs per variant")
    auto_promote = forms.BooleanField(
        required=False, initial=True, help_text="Promote the winner as soon as the test is decisive"
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["variant_a"]).choices = choices
        cast(forms.ChoiceField, self.fields["variant_b"]).choices = choices


class PromptForm(forms.Form):
    prompt = forms.CharField(max_length=MAX_PROMPT, widget=forms.Textarea(attrs={"rows": 8}))
    note = forms.CharField(max_length=300, help_text="What changed and why")
    make_current = forms.BooleanField(required=False, help_text="Use it from the next run on")
