"""Workspace integration secrets are encrypted at rest and never shown back (issue 8, security item 10).

The CalDAV password of a workspace is stored sealed (`tenancy/secrets.py`),
opened for the CalDAV client, which logs in to a real CalDAV server
(Radicale) with it, and shown in forms only as a placeholder.
"""

from __future__ import annotations

import importlib
import json

import caldav
import pytest
from django.apps import apps
from django.core import serializers
from django.db import connection
from django.forms import modelform_factory

from tenancy.integrations import KEEP
from tenancy.models import Workspace
from tenancy.secrets import SecretUnreadable, open_sealed, seal
from tests.factories.tenancy import UserFactory
from tools.integrations.calendar.settings import caldav_config

PASSWORD = "caldav-pass-7d1e0b-never-stored"


def _stored_text(workspace: Workspace) -> str:
    """The column as the database holds it, past the field's own conversions."""
    postgres = connection.vendor == "postgresql"
    column, key = ("integrations::text", str(workspace.pk)) if postgres else ("integrations", workspace.pk.hex)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM workspaces WHERE id = %s", [key])
        return cursor.fetchone()[0]


def _with_caldav(workspace: Workspace, url: str, username: str, password: str) -> Workspace:
    workspace.integrations = {
        "caldav": {"url": url, "username": username, "password": password, "calendar": "Team"},
        "rate_limits": {"llm.chat": {"limit": 3, "window_seconds": 60}},
    }
    workspace.save()
    return Workspace.objects.get(pk=workspace.pk)


@pytest.mark.django_db
def test_it_stores_the_caldav_password_sealed_and_logs_in_with_it(workspace_a, caldav_server):
    _with_caldav(workspace_a, caldav_server.url, caldav_server.username, caldav_server.password)

    stored = _stored_text(workspace_a)
    assert caldav_server.password not in stored
    assert '"$sealed": "v1.' in stored
    assert caldav_server.username in stored  # only secrets are sealed: the rest stays readable
    config = caldav_config(str(workspace_a.pk))
    assert config.password == caldav_server.password
    with caldav.DAVClient(url=config.url, username=config.username, password=config.password, timeout=10) as client:
        assert client.principal() is not None  # the real server accepts the opened password


@pytest.mark.django_db
def test_it_keeps_secrets_sealed_in_a_dump_and_opens_them_after_loading_it(workspace_a):
    _with_caldav(workspace_a, "https://dav.example.com/", "team", PASSWORD)
    dump = serializers.serialize("json", Workspace.objects.filter(pk=workspace_a.pk))
    assert PASSWORD not in dump

    Workspace.objects.filter(pk=workspace_a.pk).update(integrations={})
    for restored in serializers.deserialize("json", dump):
        restored.save()

    assert Workspace.objects.get(pk=workspace_a.pk).integrations["caldav"]["password"] == PASSWORD


@pytest.mark.django_db
def test_it_never_shows_a_stored_secret_in_the_admin_form(client, workspace_a):
    _with_caldav(workspace_a, "https://dav.example.com/", "team", PASSWORD)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    page = client.get(f"/admin/tenancy/workspace/{workspace_a.pk}/change/").content.decode()

    assert PASSWORD not in page
    assert "v1." not in page  # nor its sealed form
    assert KEEP in page
    assert "dav.example.com" in page


@pytest.mark.django_db
def test_it_keeps_replaces_or_removes_a_secret_from_a_form(workspace_a):
    workspace = _with_caldav(workspace_a, "https://dav.example.com/", "team", PASSWORD)
    form_class = modelform_factory(Workspace, fields=["name", "integrations"])
    shown = json.loads(form_class(instance=workspace)["integrations"].value())
    assert shown["caldav"]["password"] == KEEP

    kept = form_class({"name": "A", "integrations": json.dumps(shown)}, instance=workspace)
    assert kept.is_valid(), kept.errors
    kept.save()
    assert Workspace.objects.get(pk=workspace.pk).integrations["caldav"]["password"] == PASSWORD

    shown["caldav"]["password"] = "a-new-password"
    form_class({"name": "A", "integrations": json.dumps(shown)}, instance=workspace).save()
    assert Workspace.objects.get(pk=workspace.pk).integrations["caldav"]["password"] == "a-new-password"
    assert "a-new-password" not in _stored_text(workspace)

    del shown["caldav"]["password"]
    form_class({"name": "A", "integrations": json.dumps(shown)}, instance=workspace).save()
    assert "password" not in Workspace.objects.get(pk=workspace.pk).integrations["caldav"]


@pytest.mark.django_db
def test_it_seals_the_secrets_stored_before_the_upgrade(workspace_a):
    plain = json.dumps({"caldav": {"username": "team", "password": PASSWORD}})
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE workspaces SET integrations = %s{cast}", [plain])
    assert PASSWORD in _stored_text(workspace_a)

    migration = importlib.import_module("tenancy.migrations.0003_integration_secrets_sealed")
    migration.seal_stored_secrets(apps, None)

    assert PASSWORD not in _stored_text(workspace_a)
    assert Workspace.objects.get(pk=workspace_a.pk).integrations["caldav"]["password"] == PASSWORD


def test_it_opens_secrets_after_a_key_rotation_only_with_the_old_key_kept(settings, workspace_a):
    settings.ORCHESTRATE_SECRETS_KEY = None
    sealed = seal(PASSWORD, purpose="integrations", workspace_id=None)

    settings.ORCHESTRATE_SECRETS_KEY = "a-separate-secrets-key-of-at-least-32-chars"
    assert open_sealed(sealed, purpose="integrations", workspace_id=None) == PASSWORD  # SECRET_KEY's still opens
    resealed = seal(PASSWORD, purpose="integrations", workspace_id=None)

    settings.ORCHESTRATE_SECRETS_KEY = "yet-another-secrets-key-of-at-least-32-chars"
    with pytest.raises(SecretUnreadable, match="enter it again"):
        open_sealed(resealed, purpose="integrations", workspace_id=None)
    settings.ORCHESTRATE_SECRETS_KEY_FALLBACKS = ["a-separate-secrets-key-of-at-least-32-chars"]
    assert open_sealed(resealed, purpose="integrations", workspace_id=None) == PASSWORD


def test_it_does_not_open_a_secret_sealed_for_another_workspace_or_use(workspace_a, workspace_b):
    sealed = seal(PASSWORD, purpose="tool-input", workspace_id=workspace_a.pk)
    assert open_sealed(sealed, purpose="tool-input", workspace_id=workspace_a.pk) == PASSWORD
    with pytest.raises(SecretUnreadable):
        open_sealed(sealed, purpose="tool-input", workspace_id=workspace_b.pk)
    with pytest.raises(SecretUnreadable):
        open_sealed(sealed, purpose="integrations", workspace_id=workspace_a.pk)
