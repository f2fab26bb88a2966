"""Entities the rule planner reads out of a request: dates and times, durations,
e-mail addresses, URLs, file names, and which files a phrase means.

The code is the same for every language; the words come from the request's
`Language` tables. Dates and times are naive: the calendar tools take a time
without an offset as UTC, the server's time zone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from orchestration.planning.language import Language, language_for

# A Hebrew prefix may be joined to an address or a file name ("ל-bob@example.com", "בsales.csv"): not part of it.
_JOINED = r"(?:[\u05d0-\u05ea]{1,3}-|[\u05d0-\u05ea]{1,3}(?=[A-Za-z0-9_]))?"
EMAIL = re.compile(rf"(?<![\w.+-]){_JOINED}([\w.+-]+@[\w-]+(?:\.[\w-]+)+)\b")
URL = re.compile(r"(?<![A-Za-z0-9_])https?://[^\s<>\"')]+", re.IGNORECASE)
FILE_NAME = re.compile(
    rf"(?<![\w@/.-]){_JOINED}([\w-]+(?:/[\w.-]+)*\.(?:csv|tsv|json|txt|md|log|markdown))(?![\w-])", re.IGNORECASE
)
GLOB = re.compile(r"(?<!\S)([\w./-]*\*[\w.*/-]*)")
DATA_EXTENSIONS = {"csv": "csv", "tsv": "tsv", "json": "json"}
TEXT_EXTENSIONS = {"txt", "md", "log", "markdown"}
DEFAULT_TIME = time(9, 0)
# "at 3" with no am/pm means the afternoon: nobody books a 3 a.m. review.
AFTERNOON_BELOW = 8


@dataclass
class Entities:
    emails: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)
    file_patterns: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)  # ISO dates, in the order written
    times: list[str] = field(default_factory=list)  # HH:MM, 24-hour
    start: str | None = None  # ISO datetime when the request says when (a date, a time or both)
    duration_minutes: int | None = None
    file_format: str | None = None  # csv, tsv, json or text
    contains: str | None = None  # "files mentioning X"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def mentions_files(self) -> bool:
        return bool(self.file_names or self.file_patterns)

    def first_datetime(self) -> datetime | None:
        return datetime.fromisoformat(self.start) if self.start else None


def _alternatives(words: Any) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(part) for part in word.split()) for word in ordered)


def _number(text: str, language: Language) -> float | None:
    text = text.strip()
    if re.fullmatch(r"\d+(?:[.,]\d+)?", text):
        return float(text.replace(",", "."))
    return language.number_words.get(text)


@dataclass
class _When:
    day: date | None = None
    clock: time | None = None
    moment: datetime | None = None  # "in 2 hours": both at once


def read_when(text: str, language: Language, now: datetime) -> _When:
    """The date and the time a (normalised) text names, each None when it names none."""
    today = now.date()
    found = _When()
    numbers = _alternatives(language.number_words)
    units = _alternatives(language.units)
    relative = re.search(
        rf"\b(?:{_alternatives(language.in_words)})\s+(\d+(?:[.,]\d+)?|{numbers})\s*(?:{numbers})?\s*({units})\b", text
    )
    if relative:
        amount = _number(relative.group(1), language) or 0
        found.moment = now.replace(second=0, microsecond=0) + timedelta(
            minutes=amount * language.units[relative.group(2)]
        )
        return found
    found.day = _read_day(text, language, today)
    found.clock = _read_clock(text, language)
    return found


def _read_day(text: str, language: Language, today: date) -> date | None:
    iso = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", text)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            pass
    months = _alternatives(language.months)
    ordinal = r"(\d{1,2})(?:st|nd|rd|th)?"
    of = _alternatives(language.of_words)
    day_month = re.search(rf"\b{ordinal}(?:\s+(?:{of}))?\s+({months})\.?(?:,?\s+(\d{{4}}))?\b", text)
    month_day = re.search(rf"\b({months})\.?\s+{ordinal}(?:,?\s+(\d{{4}}))?\b(?!:)", text)
    for match, day_group, month_group in ((day_month, 1, 2), (month_day, 2, 1)):
        if match:
            year = int(match.group(3)) if match.group(3) else None
            found = _dated(year, language.months[match.group(month_group)], int(match.group(day_group)), today)
            if found:
                return found
    numeric = re.search(r"(?<![\d:/])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d/])", text)
    if numeric:  # day first, as written in most of the world
        year = int(numeric.group(3)) if numeric.group(3) else None
        if year is not None and year < 100:
            year += 2000
        found = _dated(year, int(numeric.group(2)), int(numeric.group(1)), today)
        if found:
            return found
    relative = re.search(rf"\b({_alternatives(language.relative_days)})\b", text)
    if relative:
        return today + timedelta(days=language.relative_days[relative.group(1)])
    weekday = re.search(rf"\b({_alternatives(language.weekdays)})\b", text)
    if weekday:
        ahead = (language.weekdays.index(weekday.group(1)) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if re.search(rf"\b(?:{_alternatives(language.next_week)})\b", text):
        return today + timedelta(days=7 - today.weekday())
    the_nth = re.search(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b", text)
    if the_nth:
        day = int(the_nth.group(1))
        for months_ahead in range(3):
            month = (today.month - 1 + months_ahead) % 12 + 1
            year = today.year + (today.month - 1 + months_ahead) // 12
            candidate = _dated(year, month, day, today)
            if candidate and candidate >= today:
                return candidate
    return None


def _dated(year: int | None, month: int, day: int, today: date) -> date | None:
    try:
        candidate = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and candidate < today:
        try:
            candidate = date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


def _read_clock(text: str, language: Language) -> time | None:
    am, pm = _alternatives(language.am_words), _alternatives(language.pm_words)
    for match in re.finditer(rf"(?<![\d:.-])(\d{{1,2}}):(\d{{2}})\s*({am}|{pm})?(?![\d:])", text):
        clock = _clock(int(match.group(1)), int(match.group(2)), match.group(3), language, bare=False)
        if clock:
            return clock
    for match in re.finditer(rf"(?<![\d:.])(\d{{1,2}})\s*({am}|{pm})\b", text):
        clock = _clock(int(match.group(1)), 0, match.group(2), language, bare=False)
        if clock:
            return clock
    at = _alternatives(language.at_words)
    bare = re.search(
        rf"(?:^|\s)(?:{at})\s+(\d{{1,2}})(?![\d:/.]|\s*(?:st|nd|rd|th)\b|\s+(?:{_alternatives(language.units)})\b"
        rf"|\s+(?:(?:{_alternatives(language.of_words)})\s+)?(?:{_alternatives(language.months)})\b)",
        text,
    )
    if bare:
        clock = _clock(int(bare.group(1)), 0, None, language, bare=True)
        if clock:
            return clock
    part = re.search(rf"\b({_alternatives(language.parts_of_day)})\b", text)
    if part:
        return time.fromisoformat(language.parts_of_day[part.group(1)])
    return None


def _clock(hour: int, minute: int, meridiem: str | None, language: Language, *, bare: bool) -> time | None:
    if meridiem in language.pm_words and hour < 12:
        hour += 12
    elif meridiem in language.am_words and hour == 12:
        hour = 0
    elif meridiem is None and bare and 1 <= hour < AFTERNOON_BELOW:
        hour += 12
    if 0 <= hour < 24 and 0 <= minute < 60:
        return time(hour, minute)
    return None


def read_duration(text: str, language: Language) -> int | None:
    """Minutes, from "for 30 minutes", "for an hour", "a 45-minute call", "1.5 hours"; None if not said."""
    numbers = _alternatives(language.number_words)
    units = _alternatives(language.units)
    amount = rf"(\d+(?:[.,]\d+)?|{numbers})"
    for pattern in (
        rf"\b(?:{_alternatives(language.for_words)})\s+{amount}\s*(?:and\s+a\s+half\s+)?({units})\b",
        rf"\b{amount}[\s-]*({units})[\s-]+(?:long\s+)?(?:{_alternatives(language.event_nouns)})\b",
    ):
        match = re.search(pattern, text)
        if match:
            value = _number(match.group(1), language)
            if value:
                minutes = round(value * language.units[match.group(2)])
                if "and a half" in match.group(0):
                    minutes += language.units[match.group(2)] // 2
                return minutes if minutes > 0 else None
    return None


def combine(when: _When, now: datetime, fallback: _When | None = None) -> datetime | None:
    """A start time from what was said, filling gaps from `fallback` (what the request said before)."""
    if when.moment is not None:
        return when.moment
    day = when.day or (fallback.day if fallback else None)
    clock = when.clock or (fallback.clock if fallback else None)
    if fallback is not None and fallback.moment is not None and not (when.day or when.clock):
        return fallback.moment
    if day is None and clock is None:
        return None
    if day is None:
        assert clock is not None
        # A time alone is the next such time: today if it is still ahead, else tomorrow.
        candidate = datetime.combine(now.date(), clock)
        return candidate if candidate > now else candidate + timedelta(days=1)
    return datetime.combine(day, clock or DEFAULT_TIME)


def qualifier_words(words: list[str], language: Language) -> list[str]:
    kept = []
    for word in words:
        word = word.strip("'\".,;:!?()")
        if not word or word in language.not_qualifiers or not re.fullmatch(r"[\w-]+", word) or word.isdigit():
            continue
        # "customers" finds customers.csv and customer_list.csv alike.
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        kept.append(word)
    return kept


def read_files(text: str, language: Language) -> tuple[list[str], str | None]:
    """Drive search patterns for the files a normalised text describes, and their format (or None).

    "the sales csv files" -> *sale*.csv; "every csv file" -> *.csv; "the meeting notes" ->
    *meeting* (text); "the numbers in the sales files" -> *sale*.
    """
    if language.modifier_after_noun:
        return _read_files_after(text, language)
    formats = _alternatives(language.formats)
    nouns = _alternatives(language.file_nouns)
    phrase = re.compile(rf"((?:[\w'-]+\s+){{0,3}}?)(?:({formats})\s+)?({nouns})\b")
    candidates: list[tuple[int, str, str | None]] = []
    for match in phrase.finditer(text):
        words = match.group(1).split()
        format_word = match.group(2) or (match.group(3) if match.group(3) in language.formats else None)
        kind = language.formats.get(format_word) if format_word else None
        # The words right before the noun name the files ("in the sales files"); the run stops at "the".
        run: list[str] = []
        for word in reversed(words):
            if not qualifier_words([word], language):
                break
            run.insert(0, word)
        qualifiers = qualifier_words(run, language)
        before = words[: len(words) - len(run)][-2:]
        all_of_them = bool(re.search(rf"\b(?:{_alternatives(language.all_words)})\b", " ".join(before)))
        noun_is_vague = match.group(3) in {"figures", "numbers", "results", "data"} and not qualifiers
        if noun_is_vague and not kind:
            continue
        if not qualifiers and not kind and not all_of_them:
            continue
        extension = kind if kind in DATA_EXTENSIONS else None
        stem = "*" + "*".join(qualifiers) + "*" if qualifiers else "*"
        pattern = f"{stem}.{extension}" if extension else stem
        if pattern == "*" and kind == "text":
            continue  # "the notes" alone says nothing about which files
        score = 2 * bool(qualifiers) + bool(kind)
        candidates.append((score, pattern, kind))
    if not candidates:
        return [], None
    best = max(candidates, key=lambda candidate: candidate[0])
    kind = best[2] or next((candidate[2] for candidate in candidates if candidate[2]), None)
    pattern = best[1]
    if kind in DATA_EXTENSIONS and "." not in pattern.rsplit("*", 1)[-1]:
        pattern = f"{pattern}.{kind}" if pattern.endswith("*") else pattern
    return [pattern], kind


def extract(
    text: str, today: date | None = None, *, now: datetime | None = None, language: Language | None = None
) -> Entities:
    """The entities of a request as written (`normalise` is applied here)."""
    from orchestration.planning.understanding import normalise

    language = language or language_for(text)
    if now is None:
        now = datetime.combine(today, time(0, 0)) if today else datetime.now().replace(microsecond=0)
    normal = normalise(text, language)
    return read_entities(text, normal, language, now)


def read_entities(original: str, normal: str, language: Language, now: datetime) -> Entities:
    emails = list(dict.fromkeys(EMAIL.findall(original)))
    urls = list(dict.fromkeys(url.rstrip(".,;:!?") for url in URL.findall(original)))
    plain = URL.sub(" ", EMAIL.sub(" ", original))
    file_names = list(dict.fromkeys(FILE_NAME.findall(plain)))
    patterns = [glob for glob in GLOB.findall(plain)]
    kind: str | None = None
    if file_names:
        extension = file_names[0].rsplit(".", 1)[-1].lower()
        kind = DATA_EXTENSIONS.get(extension) or ("text" if extension in TEXT_EXTENSIONS else None)
    if not file_names and not patterns:
        patterns, kind = read_files(normal, language)
    elif patterns and kind is None:
        extension = patterns[0].rsplit(".", 1)[-1].lower() if "." in patterns[0] else ""
        kind = DATA_EXTENSIONS.get(extension) or ("text" if extension in TEXT_EXTENSIONS else None)
    when = read_when(normal, language, now)
    start = combine(when, now)
    return Entities(
        emails=emails,
        urls=urls,
        file_names=file_names,
        file_patterns=patterns,
        dates=[start.date().isoformat()] if start and (when.day or when.moment) else [],
        times=[start.strftime("%H:%M")] if start and (when.clock or when.moment) else [],
        start=start.isoformat() if start else None,
        duration_minutes=read_duration(normal, language),
        file_format=kind,
        contains=_contains(normal, language),
    )


def _contains(normal: str, language: Language) -> str | None:
    """The word of "files mentioning X"."""
    match = re.search(rf"\b(?:{_alternatives(language.contains_words)})\s+\"?([\w-]+)", normal)
    if match and match.group(1) not in language.not_qualifiers:
        return match.group(1)
    return None


def file_word(word: str, language: Language) -> str:
    """A qualifier as file names have it: "מכירות" -> "sale"; a leading article on an unknown word goes."""
    if word in language.file_words:
        return language.file_words[word]
    if language.prefixes and len(word) > 3 and word[0] == "ה" and word not in language.vocabulary():
        word = word[1:]
    return language.file_words.get(word, word)


def _ends_qualifiers(word: str, stops: frozenset[str]) -> bool:
    return word in stops or not re.fullmatch(r"[\w-]+", word) or word.isdigit()


def _read_files_after(text: str, language: Language) -> tuple[list[str], str | None]:
    """`read_files` for languages whose qualifiers follow the noun: "קבצי ה-CSV של המכירות" -> *sale*.csv."""
    nouns = _alternatives([*language.file_nouns, *language.formats])
    stops = language.vocabulary() - set(language.file_words) - set(language.formats) - set(language.file_nouns)
    candidates: list[tuple[int, str, str | None]] = []
    for match in re.finditer(rf"(?<!\S)({nouns})(?!\S)((?:\s+\S+){{0,6}})", text):
        kind = language.formats.get(match.group(1))
        vague = match.group(1) in language.references  # "המספרים מוכנים": the numbers, not files
        qualifiers: list[str] = []
        for word in match.group(2).split():
            if word in language.formats:
                kind = kind or language.formats[word]
            elif word in language.file_nouns or word in language.not_qualifiers:
                continue
            elif _ends_qualifiers(word, stops) or (vague and file_word(word, language) == word):
                break
            else:
                qualifiers.append(file_word(word, language))
                if len(qualifiers) == 2:
                    break
        before = text[: match.start()].split()[-2:]
        all_of_them = bool(set(before) & set(language.all_words))
        if vague and not qualifiers and not kind:
            continue
        if not qualifiers and not kind and not all_of_them:
            continue
        extension = kind if kind in DATA_EXTENSIONS else None
        stem = "*" + "*".join(qualifiers) + "*" if qualifiers else "*"
        pattern = f"{stem}.{extension}" if extension else stem
        if pattern == "*" and kind == "text":
            continue
        candidates.append((2 * bool(qualifiers) + bool(kind), pattern, kind))
    if not candidates:
        return [], None
    best = max(candidates, key=lambda candidate: candidate[0])
    kind = best[2] or next((candidate[2] for candidate in candidates if candidate[2]), None)
    pattern = best[1]
    if kind in DATA_EXTENSIONS and not pattern.endswith(f".{kind}"):
        pattern = f"{pattern}.{kind}"
    return [pattern], kind
