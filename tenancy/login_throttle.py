"""Login throttling: failed logins per username and per client address slow down, then lock.

- The first `LOGIN_FAILURES_BEFORE_DELAY` failures within
  `LOGIN_FAILURE_WINDOW_SECONDS` cost nothing. After that each further attempt
  must wait 2, 4, 8, ... seconds (at most a minute) after the last failure; an
  attempt that comes sooner is refused unchecked, so guessing slows down
  without a worker thread sleeping.
- At `LOGIN_FAILURES_BEFORE_LOCK` failures the username (or the address) is
  locked for `LOGIN_LOCK_SECONDS`: even the right password is refused, with a
  message that says until when.
- A successful login clears its username's count, never its address's: one
  valid account must not reset the count of an address that guesses others.

Counts live in the `login_throttles` table, so they survive a restart and are
shared by every server process. A lock per username lets someone lock a user
out for a while by guessing; that is the price of stopping the guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from tenancy.models import LoginThrottle

MAX_DELAY_SECONDS = 60


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int  # seconds


def keys(username: str, address: str | None) -> list[str]:
    found = [f"user:{username.strip().lower()[:150]}"]
    if address:
        found.append(f"addr:{address[:100]}")
    return found


def _delay(failures: int) -> int:
    over = failures - settings.LOGIN_FAILURES_BEFORE_DELAY
    return 0 if over < 0 else min(2 ** (over + 1), MAX_DELAY_SECONDS)


def _window_start(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def refusal(username: str, address: str | None) -> Refusal | None:
    """Why a login attempt must not even be checked now, or None when it may be."""
    now = timezone.now()
    rows = LoginThrottle.objects.filter(key__in=keys(username, address))
    lock = max((row.locked_until for row in rows if row.locked_until and row.locked_until > now), default=None)
    if lock is not None:
        minutes = max(1, round((lock - now).total_seconds() / 60))
        return Refusal(
            f"Too many failed logins for this username or from your address: logins are locked for about "
            f"{minutes} minute{'s' if minutes != 1 else ''} (until {lock:%H:%M} UTC).",
            int((lock - now).total_seconds()) + 1,
        )
    wait = 0.0
    for row in rows:
        if row.first_failure_at < _window_start(now):
            continue
        ready = row.last_failure_at + timedelta(seconds=_delay(row.failures))
        wait = max(wait, (ready - now).total_seconds())
    if wait > 0:
        seconds = int(wait) + 1
        return Refusal(f"Too many failed logins: wait {seconds} seconds before trying again.", seconds)
    return None


def record_failure(username: str, address: str | None) -> None:
    now = timezone.now()
    for key in keys(username, address):
        with transaction.atomic():
            # A served lock, or a count whose window has passed, starts again; then one increment.
            LoginThrottle.objects.filter(key=key, locked_until__lt=now).update(
                failures=0, first_failure_at=now, locked_until=None
            )
            LoginThrottle.objects.filter(
                key=key, first_failure_at__lt=_window_start(now), locked_until__isnull=True
            ).update(failures=0, first_failure_at=now)
            updated = LoginThrottle.objects.filter(key=key).update(failures=F("failures") + 1, last_failure_at=now)
            if not updated:
                try:
                    with transaction.atomic():
                        LoginThrottle.objects.create(key=key, failures=1, first_failure_at=now, last_failure_at=now)
                except IntegrityError:  # created by a concurrent failure
                    LoginThrottle.objects.filter(key=key).update(failures=F("failures") + 1, last_failure_at=now)
            LoginThrottle.objects.filter(
                key=key, failures__gte=settings.LOGIN_FAILURES_BEFORE_LOCK, locked_until__isnull=True
            ).update(locked_until=now + timedelta(seconds=settings.LOGIN_LOCK_SECONDS))


def record_success(username: str) -> None:
    LoginThrottle.objects.filter(key__in=keys(username, None)).delete()
