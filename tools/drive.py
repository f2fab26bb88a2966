"""A workspace's drive: its files, kept through Django's storage API.

Local disk under MEDIA_ROOT by default; any Django storage backend works.
Each workspace sees only its own prefix, and names are checked so no path
can climb out of it.
"""

from __future__ import annotations

import builtins
import fnmatch
import posixpath
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

HIDDEN_PREFIX = ".orchestrate/"


class DriveError(Exception):
    """A bad file name, or a file that is not there; the message is shown to people."""


@dataclass(frozen=True)
class DriveFile:
    name: str
    size: int
    modified_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size": self.size,
            "modified_at": self.modified_at.isoformat() if self.modified_at else None,
        }


def clean_name(name: str) -> str:
    """A drive-relative POSIX path, or DriveError for anything that could escape the drive."""
    if not isinstance(name, str) or not name.strip():
        raise DriveError("A file name is required.")
    if "\x00" in name or "\\" in name:
        raise DriveError(f"Invalid file name: {name!r}")
    normal = posixpath.normpath(name.strip().lstrip("/"))
    if normal in {".", ""} or normal.startswith("../") or normal == "..":
        raise DriveError(f"Invalid file name: {name!r}")
    return normal


class WorkspaceDrive:
    def __init__(self, workspace_id: uuid.UUID | str, storage: Storage | None = None) -> None:
        self.prefix = f"drive/{workspace_id}"
        self.storage = storage or default_storage

    def _path(self, name: str) -> str:
        return f"{self.prefix}/{clean_name(name)}"

    def exists(self, name: str) -> bool:
        return self.storage.exists(self._path(name))

    def read_bytes(self, name: str) -> bytes:
        path = self._path(name)
        if not self.storage.exists(path):
            raise DriveError(f"No file named {clean_name(name)!r} in the drive.")
        with self.storage.open(path, "rb") as handle:
            return handle.read()

    def read_text(self, name: str) -> str:
        data = self.read_bytes(name)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DriveError(f"{clean_name(name)!r} is not UTF-8 text.") from None

    def write_bytes(self, name: str, data: bytes) -> DriveFile:
        """Write (or overwrite) a file; the same name and data twice leaves one file."""
        path = self._path(name)
        if self.storage.exists(path):
            self.storage.delete(path)
        saved = self.storage.save(path, ContentFile(data))
        if saved != path:  # a storage that renames on collision would break idempotent writes
            raise DriveError(f"Storage saved {clean_name(name)!r} under another name.")
        return self.stat(name)

    def write_text(self, name: str, text: str) -> DriveFile:
        return self.write_bytes(name, text.encode("utf-8"))

    def delete(self, name: str) -> None:
        self.storage.delete(self._path(name))

    def stat(self, name: str) -> DriveFile:
        path = self._path(name)
        try:
            modified = self.storage.get_modified_time(path)
        except (NotImplementedError, OSError):
            modified = None
        return DriveFile(name=clean_name(name), size=self.storage.size(path), modified_at=modified)

    def list(self, pattern: str = "*") -> builtins.list[DriveFile]:
        """Every file whose drive-relative name (or base name) matches the glob, sorted by name."""
        found: list[DriveFile] = []
        for name in self._walk(""):
            if name.startswith(HIDDEN_PREFIX):
                continue  # the engine's own bookkeeping (e.g. sent-mail markers), not the workspace's files
            base = posixpath.basename(name)
            if fnmatch.fnmatch(name.lower(), pattern.lower()) or fnmatch.fnmatch(base.lower(), pattern.lower()):
                found.append(self.stat(name))
        return sorted(found, key=lambda file: file.name)

    def _walk(self, folder: str) -> builtins.list[str]:
        root = f"{self.prefix}/{folder}" if folder else self.prefix
        if not self.storage.exists(root) and folder == "":
            return []
        try:
            folders, files = self.storage.listdir(root)
        except FileNotFoundError:
            return []
        names = [posixpath.join(folder, file) for file in files]
        for sub in folders:
            names.extend(self._walk(posixpath.join(folder, sub)))
        return names
