"""The console's views, split by purpose; urls.py imports them from here."""

from __future__ import annotations

from orchestration.views.actions import answer_execution, cancel_execution, resume_execution, run_execution
from orchestration.views.builtin import calendar, outbox, outbox_attachment_file, outbox_message
from orchestration.views.drive import drive_file, step_output, upload
from orchestration.views.executions import execution_detail, index

__all__ = [
    "answer_execution",
    "calendar",
    "cancel_execution",
    "drive_file",
    "execution_detail",
    "index",
    "outbox",
    "outbox_attachment_file",
    "outbox_message",
    "resume_execution",
    "run_execution",
    "step_output",
    "upload",
]
