"""Frozen copies of drive files: the exact bytes a person approved.

When a critical call that reads drive files (an e-mail's attachments) asks
for approval, the engine freezes each file here, addressed by the SHA-256
of its contents, outside the drive so that no tool or upload can write it.
The approved call reads the copy by its hash and gets exactly the bytes
that were approved, whatever happened to the drive file since. A copy is
checked against its hash on every read.
"""

from __future__ import annotations

import hashlib
import re

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

from tools.base import ToolError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _path(workspace_id: object, digest: str) -> str:
    if not _SHA256.match(digest):
        raise ToolError(f"Not a content hash: {digest!r}")
    return f"frozen/{workspace_id}/{digest}"


def freeze(workspace_id: object, data: bytes, storage: Storage | None = None) -> str:
    """Keep the bytes (once per content); their SHA-256."""
    storage = storage or default_storage
    digest = sha256_of(data)
    path = _path(workspace_id, digest)
    if not storage.exists(path):
        saved = storage.save(path, ContentFile(data))
        if saved != path:  # another worker froze the same bytes at the same moment: keep one copy
            storage.delete(saved)
    return digest


def read_frozen(workspace_id: object, digest: str, storage: Storage | None = None) -> bytes:
    """The approved bytes; ToolError when the copy is gone or is not what was approved."""
    storage = storage or default_storage
    path = _path(workspace_id, digest)
    if not storage.exists(path):
        raise ToolError("The approved copy of an attached file is gone. Nothing was sent.")
    with storage.open(path, "rb") as handle:
        data = handle.read()
    if sha256_of(data) != digest:
        raise ToolError("The approved copy of an attached file was altered. Nothing was sent.")
    return data
