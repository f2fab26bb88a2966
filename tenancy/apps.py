from __future__ import annotations

from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Multi-tenancy"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from tenancy.language import language_on_login

        # Signing in brings back the language the person chose (config/languages.py).
        user_logged_in.connect(language_on_login, dispatch_uid="tenancy.language_on_login")
