"""Daphne's requests leave the body to Django.

Twisted's `Request` parses every multipart/form-data body itself before
daphne hands it to Django, which parses it again: an upload is held in
memory twice, and a malformed one is answered by Twisted with an empty 400
(no content type, no problem details) that Django never sees. Django does
the parsing, with its own limits, so Twisted's is turned off.
"""

from __future__ import annotations

from typing import Any


def leave_form_parsing_to_django() -> None:
    try:
        from daphne.http_protocol import WebRequest  # type: ignore[import-untyped]
    except ImportError:  # not served by daphne
        return
    if getattr(WebRequest, "_orchestrate_no_form_parsing", False):
        return
    original = WebRequest.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    WebRequest.__init__ = __init__
    WebRequest._orchestrate_no_form_parsing = True
