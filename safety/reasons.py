"""Approval reasons in the reader's language.

A tool says why its action needs a person (`Tool.approval_reason`) when the
step runs, in a worker, and the reason is stored in English with the
approval. The people who decide may read Hebrew or English, so the reason is
translated when it is shown: each reason the built-in tools give is matched
here and its figures carried into the translated sentence. A reason from a
plugin that is not listed is shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.translation import gettext, ngettext


def _count(match: re.Match[str]) -> int:
    return int(match["count"])


_REASONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"Sends e-mail to (?P<count>\d+) recipient\(s\) outside the system"),
        lambda m: (
            ngettext(
                "Sends e-mail to %(count)d recipient outside the system",
                "Sends e-mail to %(count)d recipients outside the system",
                _count(m),
            )
            % {"count": _count(m)}
        ),
    ),
    (
        re.compile(r"Invites (?P<count>\d+) people to an event \(more than (?P<limit>\d+)\)"),
        lambda m: (
            gettext("Invites %(count)d people to an event (more than %(limit)d)")
            % {"count": _count(m), "limit": int(m["limit"])}
        ),
    ),
    (
        re.compile(r"web\.post sends data to (?P<host>.+): a person must approve it\."),
        lambda m: gettext("web.post sends data to %(host)s: a person must approve it.") % {"host": m["host"]},
    ),
]
_CHANGED = re.compile(r"The action changed since it was (?P<status>approved|asked); decide again\. ")


def localised_reason(reason: str) -> str:
    """The reason in the active language, when it is one the built-in tools give."""
    prefix = ""
    changed = _CHANGED.match(reason)
    if changed:
        reason = reason[changed.end() :]
        if changed["status"] == "approved":
            prefix = gettext("The action changed since it was approved; decide again.") + " "
        else:
            prefix = gettext("The action changed since it was asked for; decide again.") + " "
    for pattern, translate in _REASONS:
        match = pattern.fullmatch(reason.strip())
        if match:
            return prefix + translate(match)
    return prefix + reason


_WAITING = [
    (re.compile(r"approval by a person: (?P<reason>.+)", re.S), "approval"),
    (re.compile(r"lock on (?P<resource>\S+) \(held by (?P<holder>[^)]+)\)"), "lock"),
]


def localised_waiting(waiting_for: str) -> str:
    """What a step waits for (written by the engine in English), in the active language."""
    for pattern, kind in _WAITING:
        match = pattern.fullmatch(waiting_for.strip())
        if match and kind == "approval":
            return gettext("approval by a person: %(reason)s") % {"reason": localised_reason(match["reason"])}
        if match:
            return gettext("lock on %(resource)s (held by %(holder)s)") % {
                "resource": match["resource"],
                "holder": match["holder"],
            }
    if waiting_for == "resuming":
        return gettext("resuming")
    return waiting_for
