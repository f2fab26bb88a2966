from __future__ import annotations

from django.urls import path

from tenancy.views.tokens import revoke_token, token_list

app_name = "tokens"

urlpatterns = [
    path("", token_list, name="list"),
    path("<uuid:token_id>/revoke/", revoke_token, name="revoke"),
]
