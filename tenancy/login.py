"""The login forms (console and admin), throttled by tenancy.login_throttle."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from tenancy import login_throttle

THROTTLED = "throttled"


class ThrottledLoginMixin:
    """Refuses an attempt unchecked while its username or address is slowed down or locked."""

    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = self.request.META.get("REMOTE_ADDR") if self.request is not None else None
        refused = login_throttle.refusal(username, address)
        if refused is not None:
            self.retry_after = refused.retry_after
            raise ValidationError(refused.message, code=THROTTLED)
        if not username or not self.cleaned_data.get("password"):
            return super().clean()  # type: ignore[misc]
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except ValidationError:
            login_throttle.record_failure(username, address)
            raise
        login_throttle.record_success(username)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        retry_after = getattr(form, "retry_after", None)
        if retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response
