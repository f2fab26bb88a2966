"""Template tags for learning's includes in other apps' pages (the rating form on the execution page)."""

from __future__ import annotations

from typing import Any

from django import template

from learning.forms import RatingForm
from learning.services.feedback import rating_of

register = template.Library()


@register.inclusion_tag("inc/execution_rating.html", takes_context=True)
def execution_rating(context: dict[str, Any], execution: Any) -> dict[str, Any]:
    """The rating form of a finished run, filled with the person's earlier rating if any."""
    request = context.get("request")
    user = getattr(request, "user", None)
    mine = rating_of(user, execution) if user is not None and user.is_authenticated else None
    initial = {"rating": mine.rating, "comment": mine.comment} if mine else None
    feedback = getattr(execution, "feedback", None) if execution.is_finished else None
    shown: dict[str, Any] = {"execution": execution, "mine": mine, "form": RatingForm(initial=initial)}
    shown["feedback"] = feedback
    if context.get("csrf_token"):
        shown["csrf_token"] = context["csrf_token"]
    return shown
