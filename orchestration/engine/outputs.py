"""Step outputs: small ones live in the row, large ones in storage with a reference.

A reference looks like {"$stored": "outputs/<workspace>/<execution>/step-3.json",
"bytes": 812345, "preview": "..."}; `load_output` reads it back transparently.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeGuard

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

PREVIEW_CHARS = 2000
STORED = "$stored"


def is_stored(output: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(output, dict) and STORED in output


def store_output(output: Any, *, workspace_id: uuid.UUID | str, execution_id: uuid.UUID | str, step_number: int) -> Any:
    """The value to keep in the row: the output itself, or a reference to it in storage."""
    encoded = json.dumps(output, ensure_ascii=False, default=str)
    if len(encoded.encode()) <= settings.ORCHESTRATE_OUTPUT_INLINE_BYTES:
        return output
    path = f"outputs/{workspace_id}/{execution_id}/step-{step_number}.json"
    if default_storage.exists(path):
        default_storage.delete(path)
    default_storage.save(path, ContentFile(encoded.encode()))
    return {STORED: path, "bytes": len(encoded.encode()), "preview": encoded[:PREVIEW_CHARS]}


def load_output(output: Any) -> Any:
    if not is_stored(output):
        return output
    with default_storage.open(output[STORED], "rb") as handle:
        return json.loads(handle.read())
