"""Secrets and signatures of the Standard Webhooks specification (standardwebhooks.com).

A secret is 32 random bytes shown once as `whsec_<base64>`. A signature is
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; a header may carry several,
space-separated, so a sender can sign with an old and a new secret while a
rotation settles. Secrets are stored encrypted with a key derived from
SECRET_KEY: the HMAC check needs the secret itself, so it cannot be hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _fernet() -> Fernet:
    key = hashlib.sha256(b"orchestrate.webhooks.secret:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The stored secret; empty when there is none or SECRET_KEY changed since it was stored."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


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
