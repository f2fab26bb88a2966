"""Signals of the safety app, for the layers above it.

`approval_decided` is sent (with `approval`) after a pending approval was
approved, rejected or expired. The engine listens and wakes the step that
waits for it; safety itself never imports the engine.
"""

from __future__ import annotations

from django.dispatch import Signal

approval_decided = Signal()
# Sent (with `approval`) after a new request for a person's approval was stored.
approval_requested = Signal()
