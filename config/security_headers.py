"""Content-Security-Policy on every response.

Django 5.2 has no CSP of its own. The policy (settings.CONTENT_SECURITY_POLICY)
allows only this site's own scripts, styles and connections; the templates
carry no inline script, style or event handler, and htmx runs with eval off
(see templates/base.html), so nothing needs 'unsafe-inline' or a nonce.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
