"""Entities the rule planner reads out of a request: dates and times,
e-mail addresses, URLs, file names and file patterns."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
URL = re.compile(r"\bhttps?://[^\s<>\"')]+", re.IGNORECASE)
FILE_NAME = re.compile(r"(?<![\w@/])([\w-]+(?:/[\w.-]+)*\.(?:csv|tsv|json|txt|md|log))\b", re.IGNORECASE)
GLOB = re.compile(r"(?<!\S)(\S*\*\S*)")
FORMATS = {"csv": "csv", "tsv": "tsv", "json": "json", "text": "txt", "txt": "txt", "markdown": "md", "md": "md"}
FILES_PHRASE = re.compile(
    r"((?:[\w-]+\s+){0,2}?)(csv|tsv|json|text|txt|markdown|md)\s+(?:files?|data|documents?|notes)\b",
    re.IGNORECASE,
)
QUALIFIED_FILES = re.compile(r"\b([\w-]+)\s+(?:files?|documents?|spreadsheets?)\b", re.IGNORECASE)
NOT_QUALIFIERS = {
    *("the", "all", "my", "our", "these", "those", "some", "any", "its", "their", "of", "in", "drive", "a", "and"),
    *("summarise", "summarize", "analyse", "analyze", "describe", "read", "list", "find", "show", "compute"),
    *("search", "check", "get", "open", "use", "from", "with", "about", "every", "each", "new", "latest"),
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
TIME = re.compile(r"\b(?:at\s+)(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b|\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", re.IGNORECASE)


@dataclass
class Entities:
    emails: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)
    file_patterns: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)  # ISO dates
    times: list[str] = field(default_factory=list)  # HH:MM, 24-hour
    file_format: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def mentions_files(self) -> bool:
        return bool(self.file_names or self.file_patterns)

    def first_datetime(self) -> datetime | None:
        if not self.dates and not self.times:
            return None
        day = date.fromisoformat(self.dates[0]) if self.dates else None
        clock = time.fromisoformat(self.times[0]) if self.times else time(9, 0)
        return datetime.combine(day, clock) if day else None


def _dates(text: str, today: date) -> list[str]:
    lowered = text.lower()
    found: list[date] = []
    if re.search(r"\btoday\b", lowered):
        found.append(today)
    if re.search(r"\btomorrow\b", lowered):
        found.append(today + timedelta(days=1))
    for match in re.finditer(r"\b(?:(next)\s+)?(" + "|".join(WEEKDAYS) + r")\b", lowered):
        ahead = (WEEKDAYS.index(match.group(2)) - today.weekday()) % 7 or 7
        found.append(today + timedelta(days=ahead + (7 if match.group(1) and ahead < 7 else 0)))
    for match in ISO_DATE.finditer(text):
        try:
            found.append(date(int(match.group(1)), int(match.group(2)), int(match.group(3))))
        except ValueError:
            continue
    return [day.isoformat() for day in found]


def _times(text: str) -> list[str]:
    found = []
    for match in TIME.finditer(text):
        groups = match.groups()
        hour, minute, meridiem = groups[:3] if groups[0] else groups[3:]
        hour_value, minute_value = int(hour), int(minute or 0)
        if meridiem and meridiem.lower() == "pm" and hour_value < 12:
            hour_value += 12
        if meridiem and meridiem.lower() == "am" and hour_value == 12:
            hour_value = 0
        if 0 <= hour_value < 24 and 0 <= minute_value < 60:
            found.append(f"{hour_value:02d}:{minute_value:02d}")
    return found


def _file_patterns(text: str, file_format: str | None) -> list[str]:
    patterns = [glob for glob in GLOB.findall(text)]
    for match in FILES_PHRASE.finditer(text):
        words = [w for w in match.group(1).lower().split() if w not in NOT_QUALIFIERS]
        extension = FORMATS[match.group(2).lower()]
        qualifier = "*".join(words)
        patterns.append(f"*{qualifier}*.{extension}" if qualifier else f"*.{extension}")
    if not patterns and file_format is None:
        for match in QUALIFIED_FILES.finditer(text):
            word = match.group(1).lower()
            if word not in NOT_QUALIFIERS:
                patterns.append(f"*{word}*")
    return list(dict.fromkeys(patterns))


def extract(text: str, today: date | None = None) -> Entities:
    today = today or date.today()
    file_format = next((FORMATS[m.group(2).lower()] for m in FILES_PHRASE.finditer(text)), None)
    emails = list(dict.fromkeys(EMAIL.findall(text)))
    text_without_addresses = URL.sub(" ", EMAIL.sub(" ", text))
    file_names = list(dict.fromkeys(FILE_NAME.findall(text_without_addresses)))
    if file_format is None and file_names:
        file_format = file_names[0].rsplit(".", 1)[-1].lower()
    return Entities(
        emails=emails,
        urls=list(dict.fromkeys(url.rstrip(".,;") for url in URL.findall(text))),
        file_names=file_names,
        file_patterns=_file_patterns(text_without_addresses, file_format),
        dates=_dates(text, today),
        times=_times(text_without_addresses),
        file_format=file_format,
    )
