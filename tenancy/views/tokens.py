"""The Tokens page: a person's own personal API tokens; a new token is shown in the answer that made it, once."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from tenancy.tokens import active_tokens, create_token, revoke

EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("0", "Never")]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What will use it, e.g. the nightly export script")
    )
    days = forms.TypedChoiceField(choices=EXPIRY_CHOICES, coerce=int, initial="90", label=_("Expires after"))


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None)
    new_secret = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            issued = create_token(request.user, form.cleaned_data["name"], days=form.cleaned_data["days"] or None)
            new_secret = issued.secret
            form = TokenForm()
            status = 201
        else:
            status = 400
    context = {"tokens": active_tokens(request.user), "form": form, "new_secret": new_secret}
    return render(request, "tenancy/tokens.html", context, status=status)


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: uuid.UUID) -> HttpResponse:
    if revoke(request.user, token_id):
        messages.success(request, _("Token revoked: requests with it are refused from now on."))
    else:
        messages.error(request, _("No such token of yours, or it was already revoked."))
    return redirect("tokens:list")
