"""Right-to-left text in what the tools write: Markdown reports and e-mail bodies.

A mail client or Markdown viewer guesses a paragraph's direction from its
first strong character, so a Hebrew sentence that starts with "CSV" or a
file name is laid out left to right, and an address inside a Hebrew sentence
can swap places with its neighbours. Marking fixes both:

- plain text (`mark_plain`): a paragraph with right-to-left letters starts
  with RLM (U+200F), and addresses, links and file names inside it are
  isolated left to right (LRI U+2066 ... PDI U+2069);
- HTML (`html_body`): the body is `<div dir="rtl">`, each paragraph a `<p>`,
  and the same left-to-right pieces are `<bdi dir="ltr">`;
- Markdown (`mark_markdown`): the report is wrapped in `<div dir="rtl">` (a
  CommonMark HTML block, so the Markdown inside still renders) and its
  right-to-left lines get RLM after their Markdown marker.
"""

from __future__ import annotations

import re
from html import escape

RTL_LETTER = re.compile(r"[\u0590-\u05ff\u0600-\u06ff\ufb1d-\ufdff\ufe70-\ufeff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
# What stays left to right inside right-to-left text: links, addresses, file names, code-ish tokens.
LTR_PIECE = re.compile(
    r"https?://[^\s<>\"']+|[A-Za-z0-9_][A-Za-z0-9_.+-]*@[\w-]+(?:\.[\w-]+)+"
    r"|[A-Za-z0-9_][A-Za-z0-9_./-]*\.(?:csv|tsv|json|txt|md|log|markdown|pdf)\b",
    re.IGNORECASE,
)
RLM, LRI, PDI = "\u200f", "\u2066", "\u2069"
_MARKER = re.compile(r"^(\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)?)(.*)$")


def has_rtl(text: str) -> bool:
    return bool(RTL_LETTER.search(text or ""))


def is_rtl(text: str) -> bool:
    """Whether the text reads right to left: more right-to-left letters than Latin ones (links,
    addresses and file names not counted: they are Latin in any language)."""
    words = LTR_PIECE.sub(" ", text or "")
    return len(RTL_LETTER.findall(words)) >= max(1, len(LATIN_LETTER.findall(words)))


def _isolate(line: str) -> str:
    return LTR_PIECE.sub(lambda match: f"{LRI}{match.group(0)}{PDI}", line)


def mark_plain(text: str) -> str:
    """Plain text with its right-to-left paragraphs marked (unchanged when it has none)."""
    if not has_rtl(text):
        return text
    lines = []
    for line in text.split("\n"):
        if has_rtl(line) and not line.startswith(RLM):
            line = RLM + _isolate(line)
        lines.append(line)
    return "\n".join(lines)


def html_body(text: str) -> str:
    """An HTML alternative of a plain-text body, right to left, paragraphs kept."""
    paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    direction = "rtl" if is_rtl(text) else "ltr"
    rendered = []
    for paragraph in paragraphs:
        pieces, last = [], 0
        for match in LTR_PIECE.finditer(paragraph):
            pieces.append(escape(paragraph[last : match.start()]))
            pieces.append(f'<bdi dir="ltr">{escape(match.group(0))}</bdi>')
            last = match.end()
        pieces.append(escape(paragraph[last:]))
        inner = "".join(pieces).replace("\n", "<br>\n")
        paragraph_dir = "rtl" if is_rtl(paragraph) else "ltr"
        rendered.append(f'<p dir="{paragraph_dir}">{inner}</p>')
    body = "\n".join(rendered)
    return (
        f'<!doctype html>\n<html dir="{direction}"><head><meta charset="utf-8"></head>\n'
        f'<body><div dir="{direction}">\n{body}\n</div></body></html>\n'
    )


def mark_markdown(markdown: str, *, rtl: bool) -> str:
    """A Markdown report with its right-to-left lines marked, wrapped right to left when `rtl`."""
    lines = []
    in_code = False
    for line in markdown.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and has_rtl(line) and not line.lstrip().startswith("|"):
            match = _MARKER.match(line)
            assert match is not None  # the pattern matches every line
            line = f"{match.group(1)}{RLM}{_isolate(match.group(2))}"
        lines.append(line)
    body = "\n".join(lines).rstrip("\n")
    if rtl:
        return f'<div dir="rtl">\n\n{body}\n\n</div>\n'
    return body + "\n"
