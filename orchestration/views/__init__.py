"""The console's views, split by purpose; urls.py imports them from here."""

from __future__ import annotations

from orchestration.views.actions import cancel_execution, resume_execution
from orchestration.views.drive import drive_file, step_output, upload
from orchestration.views.executions import execution_detail, index

__all__ = ["cancel_execution", "drive_file", "execution_detail", "index", "resume_execution", "step_output", "upload"]
