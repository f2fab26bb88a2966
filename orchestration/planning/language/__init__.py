"""The words of a language the rule planner understands, as tables.

Everything language-specific about reading a request lives in one
`Language` value: how to normalise the text (spellings, plurals, typos,
polite filler), the vocabulary of each intent, the words that name files
and formats, and the date and time forms. The understanding step
(`orchestration.planning.understanding`) is the same code for every
language; adding a language is adding a module with its tables and listing
it in `LANGUAGES`. Adding a synonym is one line in a table.
"""

from __future__ import annotations

from orchestration.planning.language.en import ENGLISH
from orchestration.planning.language.tables import Language

__all__ = ["LANGUAGES", "Language", "language_for"]

LANGUAGES: dict[str, Language] = {"en": ENGLISH}


def language_for(text: str) -> Language:
    """The language a request is written in. Only English is known so far."""
    return LANGUAGES["en"]
