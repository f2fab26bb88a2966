"""Finds user-facing text in templates that is not marked for translation.

A template is read with Django's own lexer: variables and tags become
placeholders, `{% translate %}` and `{% blocktranslate %}...{% endblocktranslate %}`
count as marked, comments go. What is left is parsed as HTML: any text node,
or user-facing attribute (aria-label, placeholder, title, alt, data-label), that
still has a word in it was written in one language only. Code (<code>, <pre>,
<script>, <style>, <kbd>, <samp>, and anything marked dir="ltr": identifiers, digests)
is left as written.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

MARK = "\x00"
USER_FACING_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "data-label", "label"}
CODE_TAGS = {"code", "pre", "script", "style", "kbd", "samp"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WORD = re.compile(r"[^\W\d_]{2,}")


def _flatten(source: str) -> str:
    """The template with every tag and variable as a placeholder, translated text as a mark."""
    out: list[str] = []
    skip_until: str | None = None
    for token in Lexer(source).tokenize():
        contents = token.contents.strip()
        if skip_until is not None:
            if token.token_type == TokenType.BLOCK and contents.split()[0] == skip_until:
                out.append(MARK)
                skip_until = None
            continue
        if token.token_type == TokenType.TEXT:
            out.append(token.contents)
        elif token.token_type == TokenType.VAR:
            out.append(MARK)
        elif token.token_type == TokenType.BLOCK:
            name = contents.split()[0] if contents else ""
            if name in {"blocktranslate", "blocktrans"}:
                skip_until = "endblocktranslate" if name == "blocktranslate" else "endblocktrans"
            elif name == "comment":
                skip_until = "endcomment"
            elif name in {"translate", "trans"}:
                out.append(MARK)
            else:
                out.append(" ")
    return "".join(out)


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.open: list[tuple[str, bool]] = []  # elements open, and whether each is code

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in USER_FACING_ATTRIBUTES and value and WORD.search(value.replace(MARK, " ")):
                self.found.append(f'{name}="{value.strip()}"')
        if tag not in VOID_TAGS:
            self.open.append((tag, tag in CODE_TAGS or ("dir", "ltr") in attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching element (HTML lets <li> and <p> close implicitly).
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if any(is_code for _, is_code in self.open):
            return
        text = data.replace(MARK, " ")
        if WORD.search(text):
            self.found.append(" ".join(text.split()))


def unmarked_strings(template: Path) -> list[str]:
    """The text in a template that is not marked for translation."""
    finder = _Finder()
    finder.feed(_flatten(template.read_text(encoding="utf-8")))
    finder.close()
    return finder.found
