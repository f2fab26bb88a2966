"""Webhook signing secrets are sealed like every other secret (tenancy.secrets), and old Fernet ones are re-sealed."""

from __future__ import annotations

import base64
import hashlib
import importlib

import pytest
from cryptography.fernet import Fernet  # only to make rows as the old code stored them
from django.apps import apps
from django.conf import settings

from tenancy.secrets import SecretUnreadable, is_sealed, open_sealed
from webhooks import signing
from webhooks.models import Webhook
from webhooks.services import create_webhook, rotate_secret, valid_secrets

reseal = importlib.import_module("webhooks.migrations.0003_reseal_signing_secrets")


def _old_fernet(secret: str) -> str:
    key = hashlib.sha256(b"orchestrate.webhooks.secret:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(secret.encode()).decode()


@pytest.fixture
def hook(alice, workspace_a):
    return create_webhook(alice, workspace_a, name="Orders", trigger_type="http", action_config={"request": "x"})


def test_it_seals_the_secret_for_the_webhooks_workspace(hook, workspace_b):
    stored = Webhook.objects.get(pk=hook.webhook.pk).secret_encrypted

    assert is_sealed(stored)
    assert open_sealed(stored, purpose=signing.PURPOSE, workspace_id=hook.webhook.workspace_id) == hook.secret
    with pytest.raises(SecretUnreadable):  # bound to its workspace: useless copied to another
        open_sealed(stored, purpose=signing.PURPOSE, workspace_id=workspace_b.pk)


def test_it_reseals_fernet_secrets_and_they_still_verify(hook, alice):
    current, previous = signing.new_secret(), signing.new_secret()
    webhook = hook.webhook
    rotate_secret(webhook, alice)  # sets an expiry for the previous secret
    Webhook.objects.filter(pk=webhook.pk).update(
        secret_encrypted=_old_fernet(current), previous_secret_encrypted=_old_fernet(previous)
    )
    assert valid_secrets(Webhook.objects.get(pk=webhook.pk)) == []  # the Fernet path is gone

    reseal.reseal_secrets(apps, None)

    webhook = Webhook.objects.get(pk=webhook.pk)
    assert is_sealed(webhook.secret_encrypted)
    assert is_sealed(webhook.previous_secret_encrypted)
    assert valid_secrets(webhook) == [current, previous]


def test_it_clears_fernet_secrets_no_key_opens(hook):
    other = Fernet(Fernet.generate_key()).encrypt(b"whsec_x").decode()
    Webhook.objects.filter(pk=hook.webhook.pk).update(secret_encrypted=other)

    reseal.reseal_secrets(apps, None)

    assert Webhook.objects.get(pk=hook.webhook.pk).secret_encrypted == ""


def test_it_leaves_sealed_secrets_alone(hook):
    before = Webhook.objects.get(pk=hook.webhook.pk).secret_encrypted
    reseal.reseal_secrets(apps, None)
    assert Webhook.objects.get(pk=hook.webhook.pk).secret_encrypted == before


def test_it_says_the_migration_is_one_way():
    assert not any(operation.reversible for operation in reseal.Migration.operations)
