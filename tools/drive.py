"""A workspace's drive: its files, kept through Django's storage API.

Local disk under MEDIA_ROOT by default; any Django storage backend works.
Each workspace sees only its own prefix, and names are checked so no path
can climb out of it.
"""

from __future__ import annotations

import builtins
import fnmatch
import posixpath
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, default_storage

HIDDEN_PREFIX = ".orchestrate/"


class DriveError(Exception):
    """A bad file name, or a file that is not there; the message is shown to people."""


@dataclass(frozen=True)
class DriveFile:
    name: str
    size: int
    modified_at: datetime | None
    # False for a name stored before names were checked (or put there behind the drive's back):
    # it is listed, shown escaped, and cannot be downloaded by name until it is renamed on disk.
    safe: bool = True

    @property
    def display_name(self) -> str:
        return printable_name(self.name)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size": self.size,
            "modified_at": self.modified_at.isoformat() if self.modified_at else None,
        } | ({} if self.safe else {"unsafe_name": True})


# Characters no drive name may hold: they break a listing line, a header, a
# shell or a page (newlines, control and invisible format characters, bidi
# overrides that make "gpj.exe" read as "exe.jpg"), or mean something in a glob.
UNSAFE_CHARS = frozenset('<>:"|?*[]\\')
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_NAME_CHARS = 500
MAX_PART_BYTES = 255


def unsafe_char(name: str) -> str | None:
    """The first character a drive name may not hold, or None."""
    for char in name:
        if char in UNSAFE_CHARS or unicodedata.category(char) in UNSAFE_CATEGORIES:
            return char
    return None


def printable_name(name: str) -> str:
    """A stored name as it can be shown on one line: unsafe characters as visible escapes."""
    return "".join(
        char if unicodedata.category(char) not in UNSAFE_CATEGORIES else f"\\u{ord(char):04x}" for char in name
    )


def clean_name(name: str) -> str:
    """A drive-relative POSIX path (NFC), or DriveError for a name that is unsafe or could escape the drive.

    Every entry point (uploads, tools, the command line) goes through here, so
    no file with a name a page, a listing or a header cannot carry is ever
    written. Spaces around each folder and file name are dropped.
    """
    if not isinstance(name, str) or not name.strip():
        raise DriveError("A file name is required.")
    bad = unsafe_char(name.replace("/", ""))
    if bad is not None:
        shown = bad if bad in UNSAFE_CHARS else f"the invisible or control character {printable_name(bad)}"
        raise DriveError(f"Invalid file name “{printable_name(name)}”: it may not contain {shown}.")
    normal = unicodedata.normalize("NFC", name)
    parts = [part.strip() for part in normal.strip().lstrip("/").split("/")]
    normal = posixpath.normpath("/".join(part for part in parts if part))
    if normal in {".", ""} or normal.startswith("../") or normal == "..":
        raise DriveError(f"Invalid file name: {name!r}")
    if len(normal) > MAX_NAME_CHARS or any(len(part.encode()) > MAX_PART_BYTES for part in normal.split("/")):
        raise DriveError(f"File name too long: keep it to {MAX_NAME_CHARS} characters, {MAX_PART_BYTES} bytes a part.")
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
        return self.write_file(name, ContentFile(data))

    def write_file(self, name: str, content: File) -> DriveFile:
        """Write (or overwrite) a file from a file object, chunk by chunk: an upload never sits in memory whole."""
        path = self._path(name)
        if self.storage.exists(path):
            self.storage.delete(path)
        saved = self.storage.save(path, content)
        if saved != path:  # a storage that renames on collision would break idempotent writes
            raise DriveError(f"Storage saved {clean_name(name)!r} under another name.")
        return self.stat(name)

    def write_text(self, name: str, text: str) -> DriveFile:
        return self.write_bytes(name, text.encode("utf-8"))

    def delete(self, name: str) -> None:
        self.storage.delete(self._path(name))

    def stat(self, name: str) -> DriveFile:
        return self._stat(clean_name(name))

    def _stat(self, name: str, safe: bool = True) -> DriveFile:
        path = f"{self.prefix}/{name}"
        try:
            modified = self.storage.get_modified_time(path)
        except (NotImplementedError, OSError):
            modified = None
        return DriveFile(name=name, size=self.storage.size(path), modified_at=modified, safe=safe)

    def list(self, pattern: str = "*") -> builtins.list[DriveFile]:
        """Every file whose drive-relative name (or base name) matches the glob, sorted by name."""
        found: list[DriveFile] = []
        for name in self._walk(""):
            if name.startswith(HIDDEN_PREFIX):
                continue  # the engine's own bookkeeping (e.g. sent-mail markers), not the workspace's files
            base = posixpath.basename(name)
            if fnmatch.fnmatch(name.lower(), pattern.lower()) or fnmatch.fnmatch(base.lower(), pattern.lower()):
                try:
                    safe = clean_name(name) == name
                except DriveError:
                    safe = False
                found.append(self._stat(name, safe=safe))
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
