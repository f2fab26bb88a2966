"""Signals the engine sends; other apps connect their receivers in their own AppConfig.ready().

This module imports nothing of the engine, so a lower app (learning,
monitoring, persistence) may import it to connect a receiver without
depending on the engine.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal


@dataclass(frozen=True)
class FinishedRun:
    """What a run that just ended looks like, in plain values."""

    execution_id: uuid.UUID
    workspace_id: uuid.UUID
    status: str
    succeeded: bool
    created_at: datetime
    completed_at: datetime
    duration_ms: int
    tokens_used: int
    steps_count: int
    current_step: int
    total_steps: int
    error_count: int
    agents: list[str] = field(default_factory=list)  # each step's agent, in step order


# Sent once per run, with `run=FinishedRun(...)`, inside the transaction that
# marks the run finished: receivers write their rows atomically with that
# status (so whoever sees the run finished sees them too) and must not call
# out of the process.
run_finished = Signal()
