"""The translation catalogues (locale/<lang>/LC_MESSAGES/django.po), read and compiled in Python.

`make setup` compiles every .po into the .mo Django reads (`manage.py
compilecatalogues`), so running the console needs no GNU gettext; the CI check
(tests/test_i18n.py) reads the same .po to find msgids without a translation.
Only what our catalogues use is supported: msgctxt, msgid, msgid_plural,
msgstr and msgstr[n], "#, fuzzy" flags and "#~" obsolete entries (skipped).
"""

from __future__ import annotations

import ast
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    """One message of a catalogue: its id (and plural id), translations and flags."""

    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def translated(self) -> bool:
        if "fuzzy" in self.flags or not self.msgstr:
            return False
        return all(text for text in self.msgstr.values())


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header (msgid "") first; obsolete (#~) entries left out."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, started, target
        if started:
            entries.append(entry)
        entry, started, target = Entry(), False, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                finish()
            continue
        if line.startswith("#,"):
            if started and target and target[0] == "msgstr":
                finish()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = "", line
        text = ast.literal_eval(rest) if rest else ""
        if keyword == "msgctxt" or (keyword == "msgid" and target and target[0] == "msgstr"):
            finish()
        if keyword == "msgctxt":
            entry.msgctxt, target, started = text, ("msgctxt", 0), True
        elif keyword == "msgid":
            entry.msgid, target, started = text, ("msgid", 0), True
        elif keyword == "msgid_plural":
            entry.msgid_plural, target = text, ("msgid_plural", 0)
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            entry.msgstr[index] = text
            target = ("msgstr", index)
        elif keyword == "" and target:
            kind, index = target
            if kind == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + text
            elif kind == "msgid":
                entry.msgid += text
            elif kind == "msgid_plural":
                entry.msgid_plural += text
            else:
                entry.msgstr[index] += text
    finish()
    return entries


def write_mo(entries: list[Entry], path: Path) -> None:
    """A GNU .mo file of the translated entries (and the header), as msgfmt writes it."""
    pairs: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.msgid and not entry.translated:
            continue  # an untranslated message falls back to its English text
        key = entry.msgid + ("\x00" + entry.msgid_plural if entry.msgid_plural else "")
        if entry.msgctxt is not None:
            key = entry.msgctxt + "\x04" + key
        value = "\x00".join(entry.msgstr[index] for index in sorted(entry.msgstr))
        pairs[key.encode()] = value.encode()
    keys = sorted(pairs)
    ids = b"".join(original + b"\x00" for original in keys)
    strs = b"".join(pairs[original] + b"\x00" for original in keys)
    count = len(keys)
    start = 7 * 4 + 16 * count  # header, then the two tables of (length, offset)
    id_offsets, str_offsets = [], []
    offset = 0
    for original in keys:
        id_offsets += [len(original), start + offset]
        offset += len(original) + 1
    offset = 0
    for original in keys:
        str_offsets += [len(pairs[original]), start + len(ids) + offset]
        offset += len(pairs[original]) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    tables = struct.pack(f"{len(id_offsets)}i", *id_offsets) + struct.pack(f"{len(str_offsets)}i", *str_offsets)
    # Written aside and moved into place: test processes compile at once, and none may read half a file.
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(header + tables + ids + strs)
    os.replace(partial, path)


def compile_catalogues(locale_dir: Path) -> list[Path]:
    """Compile every django.po under `locale_dir`; returns the .mo files written."""
    written = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        write_mo(read_po(po), mo)
        written.append(mo)
    return written
