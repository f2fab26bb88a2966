"""First-run set-up for the embedded default: a demo workspace and an admin.

The admin's password is generated, kept in var/ (readable by the owner only)
and shown at every start until the admin changes it, so a fresh clone needs
no interactive step before someone can log in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from tenancy.models import Workspace, WorkspaceMember
from tenancy.roles import Role

DEMO_WORKSPACE = "Demo"
ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class LoginHint:
    username: str
    password: str | None  # None once the admin has changed the generated password


def password_file() -> Path:
    return Path(settings.VAR_DIR) / "initial-admin-password"


@transaction.atomic
def ensure_demo_setup() -> LoginHint:
    """Create the demo workspace and admin user if absent; say how to log in."""
    User = get_user_model()
    workspace, _ = Workspace.objects.get_or_create(name=DEMO_WORKSPACE)
    admin = User.objects.filter(username=ADMIN_USERNAME).first()
    stored = password_file()
    if admin is None:
        password = secrets.token_urlsafe(12)
        admin = User.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        stored.write_text(password + "\n")
        stored.chmod(0o600)
    WorkspaceMember.objects.get_or_create(workspace=workspace, user=admin, defaults={"role": Role.OWNER})
    known = stored.read_text().strip() if stored.exists() else None
    if known is not None and not admin.check_password(known):
        known = None
    return LoginHint(username=ADMIN_USERNAME, password=known)
