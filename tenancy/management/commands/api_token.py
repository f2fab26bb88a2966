from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenancy.tokens import active_tokens, create_token, expiry_label, revoke


class Command(BaseCommand):
    help = "Create, list or revoke a user's personal API tokens; `create` prints the token (only then)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("token_id", nargs="?", help="Id of the token to revoke")
        parser.add_argument("--user", required=True, help="Username the token acts as")
        parser.add_argument("--name", default="", help="What the token is for (create)")
        parser.add_argument("--days", type=int, default=90, help="Days until it expires; 0 for never (create)")

    def handle(self, *args: Any, action: str, token_id: str | None, user: str, name: str, days: int, **_: Any) -> None:
        person = get_user_model().objects.filter(username=user, is_active=True).first()
        if person is None:
            raise CommandError(f"No active user named {user!r}.")
        if action == "create":
            try:
                issued = create_token(person, name, days=days or None)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            # Only the token on stdout, so scripts can do TOKEN=$(manage.py api_token create ...).
            self.stdout.write(issued.secret)
            self.stderr.write(
                f"Token {issued.token.name!r} for {user}, expires {expiry_label(issued.token.expires_at)}."
            )
        elif action == "list":
            for token in active_tokens(person):
                self.stdout.write(
                    f"{token.pk}\t{token.prefix}…\t{token.name}\texpires {expiry_label(token.expires_at)}"
                )
        else:
            if not token_id:
                raise CommandError("Give the id of the token to revoke.")
            try:
                revoked = revoke(person, token_id)
            except (ValueError, ValidationError):  # not a token id at all
                revoked = False
            if not revoked:
                raise CommandError(f"{user} has no live token {token_id}.")
            self.stdout.write(f"Revoked {token_id}.")
