"""Re-seal webhook signing secrets with tenancy.secrets (AES-256-GCM) instead of Fernet.

Until now a webhook's secret (and its previous one during a rotation) was
a Fernet token under a key derived from SECRET_KEY. This opens each token
(with a small reader of the Fernet format: AES-128-CBC, HMAC-SHA256) and
seals the secret with `tenancy.secrets.seal`, bound to the webhook's
workspace. A token that does not open (SECRET_KEY changed since) was
already unusable and is cleared: rotate that webhook's secret.

ONE-WAY: nothing here can write Fernet tokens again, so this migration has
no reverse; to go back, restore the database from before it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.db import migrations

from tenancy.secrets import is_sealed, seal

PURPOSE = "webhook.signing_secret"  # webhooks.signing.PURPOSE when this was written


def _legacy_keys() -> list[bytes]:
    materials = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    return [hashlib.sha256(b"orchestrate.webhooks.secret:" + m.encode()).digest() for m in materials]


def open_fernet(token: str, key: bytes) -> str | None:
    """The plaintext of a Fernet token under this 32-byte key, None if it does not open."""
    try:
        raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
    except ValueError:
        return None
    if len(raw) < 1 + 8 + 16 + 16 + 32 or raw[0] != 0x80:
        return None
    signing_key, encryption_key = key[:16], key[16:]
    body, mac = raw[:-32], raw[-32:]
    if not hmac.compare_digest(hmac.new(signing_key, body, hashlib.sha256).digest(), mac):
        return None
    decryptor = Cipher(algorithms.AES(encryption_key), modes.CBC(body[9:25])).decryptor()
    padded = decryptor.update(body[25:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return (unpadder.update(padded) + unpadder.finalize()).decode()
    except ValueError:
        return None


def _reseal(token: str, workspace_id: Any, keys: list[bytes]) -> str:
    if not token or is_sealed(token):
        return token
    for key in keys:
        secret = open_fernet(token, key)
        if secret is not None:
            return seal(secret, purpose=PURPOSE, workspace_id=workspace_id)
    return ""


def reseal_secrets(apps: Any, schema_editor: Any) -> None:
    Webhook = apps.get_model("webhooks", "Webhook")
    keys = _legacy_keys()
    for webhook in Webhook.objects.exclude(secret_encrypted="", previous_secret_encrypted="").iterator():
        webhook.secret_encrypted = _reseal(webhook.secret_encrypted, webhook.workspace_id, keys)
        webhook.previous_secret_encrypted = _reseal(webhook.previous_secret_encrypted, webhook.workspace_id, keys)
        webhook.save(update_fields=["secret_encrypted", "previous_secret_encrypted"])


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_signing_cron_history")]

    # No reverse_code: unapplying raises IrreversibleError (see the docstring).
    operations = [migrations.RunPython(reseal_secrets, elidable=False)]
