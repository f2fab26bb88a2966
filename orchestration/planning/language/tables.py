"""The shape of a language's tables (see `orchestration.planning.language`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Language:
    code: str
    # Applied in order to the lower-cased text: (regex, replacement). Spellings, plurals, typos.
    rewrites: tuple[tuple[str, str], ...]
    # Whole phrases that carry no meaning ("please", "could you"); removed.
    filler: tuple[str, ...]
    # Intent name -> phrases that say it (plain words; a space matches any run of spaces).
    intents: dict[str, tuple[str, ...]]
    # Words that say the data is numeric (so CSV/JSON is meant when no format is named).
    numeric_words: tuple[str, ...]
    # Format word -> file extension ("csv" -> "csv", "notes" -> "text").
    formats: dict[str, str]
    # Nouns that name files or data ("files", "data", "documents").
    file_nouns: tuple[str, ...]
    # Words that never qualify a file name ("the", "our", "drive", verbs...).
    not_qualifiers: frozenset[str]
    # Words meaning "all of them".
    all_words: tuple[str, ...]
    # Nouns for things that go in a calendar ("meeting", "call").
    event_nouns: tuple[str, ...]
    # Verbs that schedule only together with an event noun ("set up", "plan").
    weak_schedule_verbs: tuple[str, ...]
    # Verbs that create a report together with a report noun.
    create_verbs: tuple[str, ...]
    report_nouns: tuple[str, ...]
    # Words that point at an earlier result ("it", "the results").
    references: tuple[str, ...]
    # Words that make "the report" mean an existing one ("latest", "most recent").
    existing_markers: tuple[str, ...]
    # Words that introduce a message's content ("saying", "that").
    message_markers: tuple[str, ...]
    # Words meaning the person asking ("me").
    self_words: tuple[str, ...]
    # Dates and times.
    weekdays: tuple[str, ...]  # Monday first
    months: dict[str, int]
    relative_days: dict[str, int]  # "tomorrow" -> 1
    parts_of_day: dict[str, str]  # "afternoon" -> "14:00"
    next_week: tuple[str, ...]
    units: dict[str, int]  # "hours" -> 60 (minutes)
    number_words: dict[str, float]  # "an" -> 1, "half an" -> 0.5
    am_words: tuple[str, ...]
    pm_words: tuple[str, ...]
    in_words: tuple[str, ...]  # "in" of "in 2 hours"
    for_words: tuple[str, ...]  # "for" of "for 30 minutes"
    at_words: tuple[str, ...]  # "at" of "at 10"
    on_words: tuple[str, ...]  # "on" of "on Friday"
    next_words: tuple[str, ...]  # "next" / "this" before a weekday
    # Words before the text a file must contain ("mentioning").
    contains_words: tuple[str, ...] = ()
    # Reminders are short.
    reminder_words: tuple[str, ...] = ()
    reminder_minutes: int = 15
    default_event_name: str = "Meeting"
    reminder_name: str = "Reminder"
    # Phrase regexes, compiled on first use.
    compiled: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    def phrases(self, words: tuple[str, ...] | list[str]) -> re.Pattern[str]:
        """One regex matching any of the phrases as whole words (cached per table)."""
        key = "\x00".join(words)
        pattern = self.compiled.get(key)
        if pattern is None:
            ordered = sorted(words, key=len, reverse=True)  # longest first: "how many" before "how"
            body = "|".join(r"\s+".join(re.escape(part) for part in phrase.split()) for phrase in ordered)
            pattern = re.compile(rf"(?<![\w@-])(?:{body})(?![\w@-])")
            self.compiled[key] = pattern
        return pattern

    def intent(self, name: str) -> re.Pattern[str]:
        return self.phrases(self.intents[name])
