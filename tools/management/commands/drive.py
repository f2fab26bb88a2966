"""`manage.py drive put|ls|get --workspace NAME [FILE...]`: move files in and out of a workspace's drive.

Everything is checked before anything is written (every local file
readable, every drive name valid and present), so a mistake in the third
argument never leaves the first two copied.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenancy.models import Workspace
from tools.drive import DriveError, WorkspaceDrive, clean_name

GLOB_CHARS = set("*?[")


class Command(BaseCommand):
    help = "Copy files into a workspace's drive (put), list it (ls) or copy files out of it (get)."

    def add_arguments(self, parser: CommandParser) -> None:
        # One sub-command per action, so FILE arguments may follow --workspace (`put --workspace A a.csv`).
        actions = parser.add_subparsers(dest="action", required=True, metavar="{put,ls,get}")
        put = actions.add_parser("put", help="Copy local files into the drive.")
        put.add_argument("files", nargs="+", metavar="FILE", help="Local files to copy.")
        put.add_argument("--dir", default="", metavar="PREFIX", help="Drive folder to copy into.")
        put.add_argument("--as", dest="as_name", metavar="NAME", help="Drive name for a single file.")
        ls = actions.add_parser("ls", help="List the drive: name, size, modified time (tab separated).")
        ls.add_argument("files", nargs="*", metavar="GLOB", help="Only files matching these globs.")
        get = actions.add_parser("get", help="Copy drive files (names or globs) to a local folder.")
        get.add_argument("files", nargs="+", metavar="FILE", help="Drive names or globs.")
        get.add_argument("--out", default=".", metavar="DIR", help="Local folder to write to (default: .).")
        for sub in (put, ls, get):
            sub.add_argument("--workspace", required=True, help="The workspace's name (or id).")

    def handle(self, *args: Any, **options: Any) -> None:
        drive = WorkspaceDrive(self._workspace(options["workspace"]).pk)
        action = options["action"]
        if action == "put":
            self._put(drive, options["files"], options.get("dir") or "", options.get("as_name"))
        elif action == "ls":
            self._ls(drive, options["files"] or ["*"])
        else:
            self._get(drive, options["files"], Path(options.get("out") or "."))

    def _workspace(self, name: str) -> Workspace:
        workspace = Workspace.objects.filter(name=name).first()
        if workspace is None:
            try:
                workspace = Workspace.objects.filter(pk=name).first()
            except ValidationError:  # not a UUID
                workspace = None
        if workspace is None:
            raise CommandError(f"No workspace named {name!r}.")
        return workspace

    def _put(self, drive: WorkspaceDrive, files: list[str], folder: str, as_name: str | None) -> None:
        if not files:
            raise CommandError("put: name at least one local file.")
        if as_name and len(files) > 1:
            raise CommandError("put: --as names one file; give a single FILE or use --dir.")
        planned: dict[str, bytes] = {}
        for local in files:
            path = Path(local)
            if not path.is_file():
                raise CommandError(f"put: no such local file: {local}")
            target = posixpath.join(folder, as_name or path.name) if folder else (as_name or path.name)
            name = _clean(target)
            if name in planned:
                raise CommandError(f"put: two files would both be written to {name!r}.")
            try:
                planned[name] = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"put: cannot read {local}: {exc.strerror}") from None
        for name, data in planned.items():
            written = drive.write_bytes(name, data)
            self.stdout.write(f"{written.name}\t{written.size}")

    def _ls(self, drive: WorkspaceDrive, patterns: list[str]) -> None:
        seen: dict[str, Any] = {}
        for pattern in patterns:
            for file in drive.list(pattern):
                seen[file.name] = file
        for file in sorted(seen.values(), key=lambda file: file.name):
            modified = file.modified_at.strftime("%Y-%m-%d %H:%M:%S") if file.modified_at else "-"
            # Escaped: a name stored before names were checked must not break the tab-separated lines.
            self.stdout.write(f"{file.display_name}\t{file.size}\t{modified}")

    def _get(self, drive: WorkspaceDrive, names: list[str], out: Path) -> None:
        if not names:
            raise CommandError("get: name at least one drive file.")
        if not out.is_dir():
            raise CommandError(f"get: the output folder {out} does not exist.")
        wanted: list[str] = []
        for name in names:
            if GLOB_CHARS & set(name):
                matches = [file.name for file in drive.list(name) if file.safe]
                if not matches:
                    raise CommandError(f"get: no files in the drive match {name!r}.")
                wanted.extend(matches)
            else:
                clean = _clean(name)
                if not drive.exists(clean):
                    raise CommandError(f"get: no file named {clean!r} in the drive.")
                wanted.append(clean)
        targets: dict[str, str] = {}
        for name in dict.fromkeys(wanted):
            base = posixpath.basename(name)
            if base in targets:
                raise CommandError(f"get: {targets[base]!r} and {name!r} would both be written to {base}.")
            targets[base] = name
        contents = {base: drive.read_bytes(name) for base, name in targets.items()}
        for base, data in contents.items():
            _write_atomically(out / base, data)
            self.stdout.write(f"{out / base}\t{len(data)}")


def _clean(name: str) -> str:
    try:
        return clean_name(name)
    except DriveError as exc:
        raise CommandError(str(exc)) from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file, so an interrupted get never leaves a half-written file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
