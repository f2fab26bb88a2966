"""Step outputs: small ones live in the row, large ones in storage with a reference.

A reference looks like {"$stored": "outputs/<workspace>/<execution>/step-3.json",
"bytes": 812345, "preview": "..."}; `load_output` reads it back transparently.

A reference is never followed as a free path: the only file a step's
output may point at is the one `store_output` writes for that very run and
step, so reading checks the path against the run (and, where it is known,
its workspace) and refuses anything else. A tool's output that merely looks
like a reference is stored as a file of its own, so a row's reference is
always one the engine wrote.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeGuard

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from orchestration.models import Execution

PREVIEW_CHARS = 2000
STORED = "$stored"
PREFIX = "outputs"


class ForeignOutputReference(ValueError):
    """A stored-output reference that does not point at this step's own output file."""


def is_stored(output: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(output, dict) and STORED in output


def output_path(*, workspace_id: uuid.UUID | str, execution_id: uuid.UUID | str, step_number: int) -> str:
    """Where the output of this run's step is kept when it is too large for the row."""
    return f"{PREFIX}/{uuid.UUID(str(workspace_id))}/{uuid.UUID(str(execution_id))}/step-{int(step_number)}.json"


def stored_path(
    output: Any, *, execution_id: uuid.UUID | str, step_number: int, workspace_id: uuid.UUID | str | None = None
) -> str:
    """The storage path of a stored output, once checked to be this step's own file; else ForeignOutputReference."""
    path = output.get(STORED) if is_stored(output) else None
    if not isinstance(path, str):
        raise ForeignOutputReference("Not a stored output.")
    if workspace_id is None:
        workspace_id = _workspace_of(execution_id)
    if workspace_id is None:
        raise ForeignOutputReference(f"No run {execution_id} to read an output of.")
    try:
        expected = output_path(workspace_id=workspace_id, execution_id=execution_id, step_number=step_number)
    except (TypeError, ValueError):
        raise ForeignOutputReference(f"Not an output of step {step_number} of this run: {path!r}") from None
    if path != expected:
        raise ForeignOutputReference(f"Not an output of step {step_number} of this run: {path!r}")
    return path


def _workspace_of(execution_id: uuid.UUID | str) -> uuid.UUID | None:
    return Execution.objects.filter(pk=execution_id).values_list("workspace_id", flat=True).first()


def store_output(output: Any, *, workspace_id: uuid.UUID | str, execution_id: uuid.UUID | str, step_number: int) -> Any:
    """The value to keep in the row: the output itself, or a reference to it in storage."""
    encoded = json.dumps(output, ensure_ascii=False, default=str)
    if len(encoded.encode()) <= settings.ORCHESTRATE_OUTPUT_INLINE_BYTES and not is_stored(output):
        return output
    path = output_path(workspace_id=workspace_id, execution_id=execution_id, step_number=step_number)
    if default_storage.exists(path):
        default_storage.delete(path)
    default_storage.save(path, ContentFile(encoded.encode()))
    return {STORED: path, "bytes": len(encoded.encode()), "preview": encoded[:PREVIEW_CHARS]}


def load_output(
    output: Any, *, execution_id: uuid.UUID | str, step_number: int, workspace_id: uuid.UUID | str | None = None
) -> Any:
    """The step's output, read back from storage when it was stored there (by this run's step only)."""
    if not is_stored(output):
        return output
    path = stored_path(output, execution_id=execution_id, step_number=step_number, workspace_id=workspace_id)
    with default_storage.open(path, "rb") as handle:
        return json.loads(handle.read())
