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
    # Grammar the understanding code needs (English defaults).
    # The script's letters as a regex class body ("\u05d0-\u05ea"); marks inside a word of them go.
    letters: str = ""
    # One-letter words written joined to the next word (Hebrew ו/ה/ב/ל/מ/ש): split off when the rest is known.
    prefixes: str = ""
    # Inflected forms that the rewrites turn into table words (so a prefix before them is seen).
    known_words: tuple[str, ...] = ()
    # Qualifiers follow the noun ("קבצי המכירות", the sales files) rather than precede it.
    modifier_after_noun: bool = False
    # Words that name files in this language -> the word as file names have it ("מכירות" -> "sale").
    file_words: dict[str, str] = field(default_factory=dict)
    article_words: tuple[str, ...] = ("a", "an")  # "a report" is a new one
    of_words: tuple[str, ...] = ("of",)  # "15 of December"
    to_words: tuple[str, ...] = ("to",)  # "to me"
    about_words: tuple[str, ...] = ("about",)  # "a reminder about X"
    with_words: tuple[str, ...] = ("with",)  # "a call with the team"
    # The self words carry their own preposition ("לי", to me): anywhere in a mail request they mean "me".
    self_anywhere: bool = False
    # What a reminder is for, after the reminder word ("remind me to <this>"): one group.
    reminder_to: str = r"\bto\s+(.+)$"
    # Words that end an event's name ("book a review <tomorrow>").
    name_stops: tuple[str, ...] = (
        "tomorrow",
        "today",
        "tonight",
        "on",
        "at",
        "in",
        "next",
        "this",
        "by",
        "every",
        "for",
    )
    # After an event noun, words that make it a file, not an event ("meeting notes").
    not_events: tuple[str, ...] = ("notes", "minutes", "files", "recordings?", "transcripts?", "documents?", "agenda")
    # Regexes for "<recipient> that <message>": on the normalised text ({mark} is the masked address)...
    content_after_recipient: str = r"(?:{mark}|\bme|\bthem|\bus)\s+that\s"
    # ...and on the original text, with the message as its one group.
    message_after_recipient: str = r"(?:@[\w.-]+|\bme|\bthem|\bus)\s+that\s+(.+)$"
    # Removed from the start of a message ("שהפגישה" -> "הפגישה").
    message_lead: str = ""
    existing_report_nouns: tuple[str, ...] = ("report", "reports")
    # Where a request's first clause ends, for a report's title; and polite openings dropped from it.
    title_split: str = r",|\s+and\s+(?:then\s+)?(?:write|make|create|produce|e-?mail|mail|send|book|schedule|forward)\b"
    title_polite: str = r"^(?:please|pls|could you|can you|would you)\s+"
    # Phrase regexes, compiled on first use; the vocabulary, gathered on first use.
    compiled: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)
    gathered: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def vocabulary(self) -> frozenset[str]:
        """Every word the tables know: a prefixed word is split only when what follows the prefix is one."""
        words = self.gathered.get("vocabulary")
        if words is None:
            phrases: list[str] = [
                *self.known_words,
                *self.filler,
                *self.numeric_words,
                *self.formats,
                *self.file_nouns,
                *self.not_qualifiers,
                *self.all_words,
                *self.event_nouns,
                *self.weak_schedule_verbs,
                *self.create_verbs,
                *self.report_nouns,
                *self.references,
                *self.existing_markers,
                *self.message_markers,
                *self.self_words,
                *self.weekdays,
                *self.months,
                *self.relative_days,
                *self.parts_of_day,
                *self.next_week,
                *self.units,
                *self.number_words,
                *self.in_words,
                *self.for_words,
                *self.at_words,
                *self.on_words,
                *self.next_words,
                *self.contains_words,
                *self.reminder_words,
                *self.file_words,
                *self.name_stops,
                *self.about_words,
                *self.with_words,
                *self.to_words,
                *self.of_words,
            ]
            for values in self.intents.values():
                phrases.extend(values)
            words = frozenset(word for phrase in phrases for word in phrase.split())
            self.gathered["vocabulary"] = words
        return words

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
