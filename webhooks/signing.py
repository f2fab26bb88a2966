"""Secrets and signatures of the Standard Webhooks specification (standardwebhooks.com).

A secret is 32 random bytes shown once as `whsec_<base64>`. A signature is
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; a header may carry several,
space-separated, so a sender can sign with an old and a new secret while a
rotation settles. The HMAC check needs the secret itself, so it cannot be
hashed: it is sealed like every other secret of the project
(`tenancy.secrets`, AES-256-GCM under ORCHESTRATE_SECRETS_KEY), bound to the
webhook's workspace and to this purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from tenancy.secrets import SecretUnreadable, open_sealed, seal

SECRET_PREFIX = "whsec_"
PURPOSE = "webhook.signing_secret"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def encrypt(secret: str, *, workspace_id: object) -> str:
    """The secret sealed for storing on a webhook of this workspace."""
    return seal(secret, purpose=PURPOSE, workspace_id=workspace_id)


def decrypt(token: str, *, workspace_id: object) -> str:
    """The stored secret; empty when there is none or no configured key opens it (it must be rotated)."""
    if not token:
        return ""
    try:
        secret = open_sealed(token, purpose=PURPOSE, workspace_id=workspace_id)
    except SecretUnreadable:
        return ""
    return secret if isinstance(secret, str) else ""


def secret_bytes(secret: str) -> bytes:
    body = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(body + "=" * (-len(body) % 4))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_matches(secrets_: list[str], message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether any `v1,` signature in the header was made with any of the secrets (constant-time compares)."""
    given: list[bytes] = []
    for item in header.split():
        version, _, value = item.partition(",")
        if version != "v1" or not value:
            continue
        try:
            given.append(base64.b64decode(value, validate=True))
        except ValueError:
            continue
    matched = False
    for secret in secrets_:
        expected = base64.b64decode(sign(secret, message_id, timestamp, body).partition(",")[2])
        for candidate in given:
            # No early exit: every pair is compared, so timing says nothing about which matched.
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def github_signature_matches(secrets_: list[str], body: bytes, header: str) -> bool:
    """GitHub's `X-Hub-Signature-256: sha256=<hex>`, keyed with the secret as typed into GitHub."""
    version, _, value = header.strip().partition("=")
    if version != "sha256" or not value:
        return False
    matched = False
    for secret in secrets_:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, value.lower())
    return matched
