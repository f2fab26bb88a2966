"""How long something took, in words of the active language."""

from __future__ import annotations

from django.utils.translation import gettext as _


def duration_text(value: int | None) -> str:
    """350 ms, 4.2 s, 3 min 05 s, 2 h 04 min; an em dash when unknown."""
    if value is None:
        return "—"
    if value < 1000:
        return _("%(ms)d ms") % {"ms": value}
    seconds = value / 1000
    if seconds < 60:
        return _("%(seconds).1f s") % {"seconds": seconds}
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": second}
    hours, minute = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minute}
