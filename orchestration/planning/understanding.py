"""The understanding step: what a request asks for, read the same way in every language.

`understand(text)` normalises the text with its language's tables (case,
spellings, plurals, typos, polite filler), recognises the intents from each
intent's vocabulary, resolves what "it" and "the results" point at, and
reads the entities (files, dates and times, durations, addresses, URLs).
The rule planner (`orchestration.planning.rules`) turns the result into
steps; nothing here knows about tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from orchestration.planning.entities import (
    EMAIL,
    FILE_NAME,
    GLOB,
    URL,
    Entities,
    _alternatives,
    combine,
    file_word,
    qualifier_words,
    read_entities,
    read_files,
    read_when,
)
from orchestration.planning.language import Language, language_for

__all__ = ["Understanding", "normalise", "rejoin", "split_prefixes", "understand"]

# Masks for what was read out before normalising; no vocabulary word matches them.
EMAIL_MARK, URL_MARK, FILE_MARK = "\u27e6addr\u27e7", "\u27e6link\u27e7", "\u27e6name\u27e7"


def normalise(text: str, language: Language) -> str:
    """Lower case, entities masked, the language's rewrites applied, filler and stray punctuation gone."""
    text = URL.sub(f" {URL_MARK} ", text)
    text = EMAIL.sub(f" {EMAIL_MARK} ", text)
    text = FILE_NAME.sub(f" {FILE_MARK} ", text)
    text = GLOB.sub(f" {FILE_MARK} ", text)
    text = split_prefixes(text.lower(), language)
    for pattern, replacement in language.rewrites:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"[,;!?()\[\]\"]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # sentence stops, not 10.5
    text = language.phrases(language.filler).sub(" ", f" {text} ")
    return " ".join(text.split())


def split_prefixes(text: str, language: Language) -> str:
    """Hebrew writes "and", "the", "in", "to", "from" and "that" joined to the next word: "וקבע" is "ו קבע".

    A word is split only when it is not itself known and what follows its prefix letters is a known
    word, a number, a Latin word or a masked entity ("ב-10", "ה-CSV"); abbreviation marks inside a
    word go first ("דו״ח" is "דוח").
    """
    if not language.prefixes:
        return text
    text = re.sub(rf"(?<=[{language.letters}])[\"'\u05f3\u05f4](?=[{language.letters}])", "", text)
    text = re.sub(r"[,;!?()\[\]\"]", " ", text)  # "בכונן?" is "ב כונן"
    vocabulary = language.vocabulary()
    return " ".join(_split_word(token, language.prefixes, language.letters, vocabulary) for token in text.split())


def _split_word(token: str, prefixes: str, letters: str, vocabulary: frozenset[str]) -> str:
    if token in vocabulary or token[0] not in prefixes:
        return token
    for cut in range(1, min(4, len(token))):
        head, rest = token[:cut], token[cut:]
        if not all(letter in prefixes for letter in head):
            break
        joined = rest.lstrip("-\u05be")
        if not joined:
            return " ".join(head)
        if joined != rest or not re.match(rf"[{letters}]", joined) or joined in vocabulary:
            return " ".join(head) + " " + joined
    if token.endswith(("-", "\u05be")) and all(letter in prefixes for letter in token.rstrip("-\u05be")):
        return " ".join(token.rstrip("-\u05be"))
    return token


@dataclass
class Understanding:
    """What the request asks for."""

    original: str
    text: str  # normalised
    language: Language
    entities: Entities
    intents: set[str] = field(default_factory=set)
    report_qualifier: list[str] = field(default_factory=list)  # "the sales report" -> ["sale"]
    recipients: list[str] = field(default_factory=list)
    to_self: bool = False
    event_name: str = ""
    reminder: bool = False
    message: str = ""  # what a plain e-mail says
    refers_back: bool = False  # "it", "the results"

    def wants(self, intent: str) -> bool:
        return intent in self.intents


def understand(
    text: str, *, now: datetime | None = None, answers: dict[str, str] | None = None, language: Language | None = None
) -> Understanding:
    """Read a request (and the person's answers to earlier questions about it)."""
    language = language or language_for(text)
    now = now or datetime.now().replace(microsecond=0)
    original = " ".join(text.split())
    normal = normalise(original, language)
    entities = read_entities(original, normal, language, now)
    found = Understanding(original=original, text=normal, language=language, entities=entities)
    found.intents = _intents(found, _without_content(normal, language), language)
    found.recipients = list(entities.emails)
    self_words = _alternatives(language.self_words)
    mail_words = _alternatives(language.intents["mail"])
    to_words = _alternatives(language.to_words)
    found.to_self = found.wants("mail") and bool(
        re.search(rf"\b(?:{mail_words})\s+(?:{self_words})\b|\b(?:{to_words})\s+(?:{self_words})\b", normal)
        or (language.self_anywhere and language.phrases(language.self_words).search(normal))
    )
    found.refers_back = bool(language.phrases(language.references).search(normal))
    if found.wants("schedule"):
        found.reminder = bool(language.phrases(language.reminder_words).search(normal))
        found.event_name = _event_name(found, language)
    if found.wants("report_existing"):
        found.report_qualifier = _report_qualifier(normal, language)
    if found.wants("mail"):
        found.message = _message(original, language)
    _apply_answers(found, answers or {}, now)
    return found


def _without_content(text: str, language: Language) -> str:
    """The request without what a message says or a reminder is about: "mail bob saying the meeting moved"
    is a mail, not a meeting; "remind me to send the invoices" is a reminder, not a mail."""
    markers = _alternatives(language.message_markers)
    recipient = language.content_after_recipient.format(mark=re.escape(EMAIL_MARK))
    said = re.search(rf"\b(?:{markers})\s|{recipient}", text)
    if said and language.intent("mail").search(text[: said.start()]):
        text = text[: said.start()]
    reminder = re.search(rf"\b(?:{_alternatives(language.reminder_words)})\b(.*?){language.reminder_to}", text)
    if reminder:
        text = text[: reminder.start(2)]
    return text


def _intents(found: Understanding, text: str, language: Language) -> set[str]:
    entities = found.entities
    intents = {name for name in ("analyse", "list", "model", "calendar_list") if language.intent(name).search(text)}
    report_nouns = _alternatives(language.report_nouns)
    creates = re.search(
        rf"\b(?:{_alternatives(language.create_verbs)})\b(?:\s+\S+){{0,5}}?\s+(?:{report_nouns})\b", text
    ) or (
        language.article_words
        and re.search(rf"\b(?:{_alternatives(language.article_words)})\s+(?:\S+\s+){{0,3}}?(?:{report_nouns})\b", text)
    )
    existing = _alternatives(language.existing_report_nouns)
    if creates or language.intent("report").search(text):
        intents.add("report")
    elif re.search(rf"\b(?:{_alternatives(language.existing_markers)})\s+(?:\S+\s+){{0,2}}?(?:{existing})\b", text):
        intents.add("report_existing")
    mail_word = language.intent("mail").search(text)
    if mail_word or (entities.emails and not _schedules(text, language)):
        intents.add("mail")
    if _schedules(text, language) and "calendar_list" not in intents:
        intents.add("schedule")
    if entities.urls:
        intents.add("fetch")
    if "calendar_list" in intents:
        intents.discard("list")
    # "what's in the drive" lists; "what's in sales.csv" and "show the totals" analyse.
    if "analyse" in intents and "list" in intents:
        intents.discard("list")
    if "model" in intents and (entities.mentions_files or intents & {"analyse", "report", "schedule", "fetch"}):
        intents.discard("model")
    if "model" in intents and "mail" in intents and not entities.emails and not found.to_self:
        intents.discard("mail")  # "draft a reply to the supplier": a text to write, not a mail to send
    return intents


def _schedules(text: str, language: Language) -> bool:
    if language.intent("schedule").search(text):
        return True
    nouns = _alternatives(language.event_nouns)
    # "meeting notes" are files, not a meeting.
    event = rf"(?:{nouns})\b(?!\s+(?:{'|'.join(language.not_events)}))"
    if re.search(rf"\b(?:{_alternatives(language.weak_schedule_verbs)})\s+(?:\S+\s+){{0,3}}?{event}", text):
        return True
    when = read_when(text, language, datetime(2000, 1, 1))
    return bool(re.search(rf"\b{event}", text)) and bool(when.day or when.clock or when.moment)


def _event_name(found: Understanding, language: Language) -> str:
    text = found.text
    stop = rf"(?=\s+(?:{_alternatives(language.name_stops)})\b|$)"
    if found.reminder:
        reminder = _alternatives(language.reminder_words)
        to = language.reminder_to.replace("(.+)$", rf"(.+?){stop}")
        for pattern in (rf"\b(?:{reminder})\b.*?{to}", rf"\b(?:{reminder})\s*[:-]\s*(.+?){stop}"):
            match = re.search(pattern, text)
            if match and match.group(1).strip():
                return _capital(rejoin(match.group(1).strip(), language))
        about = re.search(rf"\b(?:{_alternatives(language.about_words)})\s+(.+?){stop}", text)
        if about:
            return f"{language.reminder_name}: {rejoin(about.group(1), language)}"
        return language.reminder_name
    if language.modifier_after_noun:
        return _event_name_after(found, language)
    nouns = _alternatives(language.event_nouns)
    match = re.search(
        rf"((?:[\w'-]+\s+){{0,3}}?)((?:{nouns})(?:\s+(?:{nouns}))*)\b(\s+with\s+(?:the\s+)?[a-z][\w-]*(?:\s+team)?)?",
        text,
    )
    if not match:
        return language.default_event_name
    verbs = {
        word for phrase in (*language.intents["schedule"], *language.weak_schedule_verbs) for word in phrase.split()
    }
    before: list[str] = []
    for word in reversed(
        match.group(1).split()
    ):  # the words right before the noun: "team lunch", "dentist appointment"
        if word in verbs or _is_time_word(word, language) or not qualifier_words([word], language):
            break
        before.insert(0, word)
    with_part = match.group(3) or ""
    if with_part and (EMAIL_MARK in with_part or _is_time_word(with_part.split()[-1], language)):
        with_part = ""
    original_words = {word.lower(): word for word in re.findall(r"[\w'-]+", found.original)}
    words = [original_words.get(word, word) for word in before] + [match.group(2)]
    name = " ".join(words) + with_part
    return _capital(name.replace("oneonone", "1:1").replace("catchup", "catch-up").replace("standup", "stand-up"))


def _event_name_after(found: Understanding, language: Language) -> str:
    """The event's name where qualifiers follow the noun: "פגישת סקירה עם הצוות"."""
    nouns = _alternatives(language.event_nouns)
    match = re.search(rf"(?<!\S)({nouns})(?!\S)((?:\s+\S+){{0,6}})", found.text)
    if not match:
        return language.default_event_name
    words = [match.group(1)]
    stops = set(language.name_stops) | set(language.intents["schedule"]) | set(language.weak_schedule_verbs)
    following = match.group(2).split()
    for index, word in enumerate(following):
        if word in language.with_words and index + 1 < len(following):
            rest = [w for w in following[index + 1 : index + 4] if w not in stops and not _is_time_word(w, language)]
            if rest and EMAIL_MARK not in rest[0]:
                words.append(word)
                words.extend(rest[: 2 if rest[0] in language.prefixes else 1])
            break
        if word in stops or _is_time_word(word, language) or EMAIL_MARK in word or len(words) >= 3:
            break
        if word in language.event_nouns or qualifier_words([word], language):
            words.append(word)
        else:
            break
    return _capital(rejoin(" ".join(words), language))


def rejoin(text: str, language: Language) -> str:
    """Prefix letters split off by `split_prefixes` joined back for display: "עם ה צוות" -> "עם הצוות"."""
    if not language.prefixes:
        return text
    return re.sub(rf"(?<!\S)([{language.prefixes}]) (?=[{language.letters}])", r"\1", text)


def _is_time_word(word: str, language: Language) -> bool:
    return (
        word in language.weekdays
        or word in language.relative_days
        or word in language.months
        or word in language.units
        or word in language.at_words
        or word in language.in_words
        or any(word in day.split() for day in language.weekdays)
        or bool(re.fullmatch(r"[\d:.-]+(?:am|pm|minutes?|min|h)?", word))
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _report_qualifier(text: str, language: Language) -> list[str]:
    nouns = _alternatives(language.existing_report_nouns)
    if language.modifier_after_noun:
        after = re.search(rf"(?<!\S)(?:{nouns})((?:\s+\S+){{1,3}})", text)
        if not after:
            return []
        words = [word for word in after.group(1).split() if word not in language.existing_markers]
        kept = []
        for word in words:
            if word in language.vocabulary() and word not in language.file_words:
                if word in language.not_qualifiers:
                    continue
                break
            kept.append(file_word(word, language))
        return kept
    match = re.search(rf"\b(?:{_alternatives(language.existing_markers)})\s+((?:\S+\s+){{0,2}}?)(?:{nouns})\b", text)
    return qualifier_words(match.group(1).split(), language) if match else []


def _message(original: str, language: Language) -> str:
    markers = _alternatives(language.message_markers)
    match = re.search(rf"\b(?:{markers})\s+(.+)$|{language.message_after_recipient}", original, re.I)
    said = (match.group(1) or match.group(2)) if match else ""
    if language.message_lead:
        said = re.sub(language.message_lead, "", said.strip())
    return said.strip().rstrip(".") + "." if len(said.strip()) > 3 else ""


def _apply_answers(found: Understanding, answers: dict[str, str], now: datetime) -> None:
    """The person's answers fill in what the request left out."""
    language, entities = found.language, found.entities
    if answers.get("files"):
        answer = answers["files"]
        names = list(dict.fromkeys(FILE_NAME.findall(answer)))
        globs = GLOB.findall(answer)
        if names or globs:
            entities.file_names, entities.file_patterns = names, globs if not names else []
        else:
            patterns, kind = read_files(normalise(answer, language), language)
            words = qualifier_words(normalise(answer, language).split(), language)
            entities.file_names = []
            entities.file_patterns = patterns or (["*" + "*".join(words) + "*"] if words else [])
            entities.file_format = kind or entities.file_format
        if names and not entities.file_format:
            extension = names[0].rsplit(".", 1)[-1].lower()
            entities.file_format = {"csv": "csv", "tsv": "tsv", "json": "json"}.get(extension, "text")
    if answers.get("when"):
        said = read_when(normalise(answers["when"], language), language, now)
        before = read_when(found.text, language, now)
        start = combine(said, now, fallback=before)
        if start is not None:
            entities.start = start.isoformat()
            entities.dates, entities.times = [start.date().isoformat()], [start.strftime("%H:%M")]
    if answers.get("to"):
        addresses = list(dict.fromkeys(EMAIL.findall(answers["to"])))
        found.recipients = addresses
        entities.emails = list(dict.fromkeys([*entities.emails, *addresses]))
        found.to_self = found.to_self or bool(language.phrases(language.self_words).search(answers["to"].lower()))
