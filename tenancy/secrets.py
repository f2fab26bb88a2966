"""Secrets at rest: sealed with the installation's key, bound to a workspace and a purpose.

What is sealed: the passwords, tokens and keys of a workspace's
integrations (`Workspace.integrations`) and the secrets people type into a
tool's input (an Authorization header, an api_key...). The database holds
only the sealed form; the real value is opened where it is used (the CalDAV
client, the tool call) and never written back or shown.

The key: `ORCHESTRATE_SECRETS_KEY` when set, else one derived from
`SECRET_KEY` with HKDF-SHA256 under a label of its own, so the derived key
is useless for signing and the signing key useless for reading secrets.
Older keys (`ORCHESTRATE_SECRETS_KEY_FALLBACKS`, and keys derived from
`SECRET_KEY_FALLBACKS`) still open what they sealed, so keys can be
rotated; what no key opens must be entered again.

A sealed value is `v1.<key id>.<base64url(nonce + AES-256-GCM ciphertext)>`.
The associated data names the purpose and the workspace, so a value sealed
for one workspace (or one use) does not open for another.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

VERSION = "v1"
_NONCE_BYTES = 12
_HKDF_INFO = b"orchestrate secrets at rest v1"


class SecretUnreadable(ValueError):
    """A sealed value no configured key opens (or one sealed for another workspace or use)."""


def _derive(material: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(material.encode("utf-8"))


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"key id:" + key).hexdigest()[:8]


@functools.cache
def _keys_for(
    primary: str | None, fallbacks: tuple[str, ...], secret_key: str, secret_fallbacks: tuple[str, ...]
) -> tuple[bytes, ...]:
    materials = [primary] if primary else [secret_key]
    materials += list(fallbacks)
    if primary:
        materials.append(secret_key)  # sealed before ORCHESTRATE_SECRETS_KEY was set
    materials += list(secret_fallbacks)
    keys: list[bytes] = []
    for material in materials:
        key = _derive(material)
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _keys() -> tuple[bytes, ...]:
    """The sealing key first, then every key that may have sealed what is stored."""
    return _keys_for(
        settings.ORCHESTRATE_SECRETS_KEY,
        tuple(settings.ORCHESTRATE_SECRETS_KEY_FALLBACKS),
        settings.SECRET_KEY,
        tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())),
    )


def _associated(purpose: str, workspace_id: object | None) -> bytes:
    scope = "installation" if workspace_id is None else str(uuid.UUID(str(workspace_id)))
    return f"orchestrate:{purpose}:{scope}".encode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(f"{VERSION}.") and value.count(".") == 2


def seal(value: object, *, purpose: str, workspace_id: object | None) -> str:
    """The JSON value, encrypted for this workspace (None: the installation) and purpose."""
    key = _keys()[0]
    nonce = os.urandom(_NONCE_BYTES)
    plain = json.dumps(value, ensure_ascii=False).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, plain, _associated(purpose, workspace_id))
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{VERSION}.{_key_id(key)}.{body}"


def open_sealed(token: str, *, purpose: str, workspace_id: object | None) -> object:
    """The value sealed in `token`; SecretUnreadable when no key opens it for this workspace and purpose."""
    if not is_sealed(token):
        raise SecretUnreadable("Not a sealed secret.")
    _, key_id, body = token.split(".")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise SecretUnreadable("A sealed secret is damaged.") from None
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    associated = _associated(purpose, workspace_id)
    for key in sorted(_keys(), key=lambda candidate: _key_id(candidate) != key_id):
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, associated)
        except InvalidTag:
            continue
        return json.loads(plain.decode("utf-8"))
    raise SecretUnreadable(
        "A stored secret cannot be read with the configured keys (was ORCHESTRATE_SECRETS_KEY or SECRET_KEY "
        "changed without keeping the old one in the fallbacks?); enter it again."
    )
