"""The words of a language the rule planner understands, as tables.

Everything language-specific about reading a request lives in one
`Language` value: how to normalise the text (spellings, plurals, typos,
polite filler), the vocabulary of each intent, the words that name files
and formats, and the date and time forms. The understanding step
(`orchestration.planning.understanding`) is the same code for every
language; adding a language is adding a module with its tables and listing
it in `LANGUAGES` (and its letters in `_SCRIPTS`). Adding a synonym is one
line in a table.
"""

from __future__ import annotations

import re

from orchestration.planning.language.en import ENGLISH
from orchestration.planning.language.he import HEBREW
from orchestration.planning.language.tables import Language

__all__ = ["LANGUAGES", "Language", "language_for"]

LANGUAGES: dict[str, Language] = {"en": ENGLISH, "he": HEBREW}

# A word is in a language when it has a letter of that language's script; Latin is English.
_SCRIPTS = {"he": re.compile(r"[\u05d0-\u05ea]")}
_LATIN = re.compile(r"[A-Za-z]")
# Addresses, links and file names are Latin whatever the sentence's language: not counted.
_ENTITIES = re.compile(r"\S+@\S+|\bhttps?://\S+|\S+\.(?:csv|tsv|json|txt|md|log|markdown)\b|\S*\*\S*", re.I)


def language_for(text: str) -> Language:
    """The language a request is written in: the script most of its words are in.

    A Hebrew sentence with "CSV", a file name or an address in it is Hebrew; an English one
    is English. A tie goes to the other script (a Latin word is more often borrowed into a
    Hebrew sentence than the reverse).
    """
    words = _ENTITIES.sub(" ", text).split()
    latin = sum(1 for word in words if _LATIN.search(word))
    best, best_count = "en", 0
    for code, script in _SCRIPTS.items():
        count = sum(1 for word in words if script.search(word))
        if count and count >= latin and count > best_count:
            best, best_count = code, count
    return LANGUAGES[best]
