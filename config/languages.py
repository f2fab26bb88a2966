"""The console's language: English or Hebrew, chosen per person and kept with them.

Django's `LocaleMiddleware` picks a language for every request from the
language cookie or the browser's Accept-Language (so the login page already
speaks the visitor's language). For a signed-in person, the language they
chose in the navigation wins: it is saved on their preferences
(`tenancy.models.UserPreference`), copied into the session when they sign in
(`tenancy.apps`), and activated here after authentication, so it follows
them from browser to browser. Websocket consumers read the same session key
(`config.consumers.MemberConsumer.dispatch`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

SESSION_KEY = "language"


def is_supported(code: object) -> bool:
    return isinstance(code, str) and code in dict(settings.LANGUAGES)


def remember_in_session(request: HttpRequest, code: str) -> None:
    request.session[SESSION_KEY] = code


def set_cookie(response: HttpResponse, code: str) -> None:
    """The language cookie, so the login page after signing out stays in the chosen language."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


class UserLanguageMiddleware:
    """After authentication: the signed-in person's chosen language, when they chose one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        code = request.session.get(SESSION_KEY) if request.user.is_authenticated else None
        if isinstance(code, str) and is_supported(code):
            translation.activate(code)
            request.LANGUAGE_CODE = code  # as LocaleMiddleware sets it
        return self.get_response(request)
