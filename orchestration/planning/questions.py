"""What the planner asks when a request leaves something out.

The planner raises `NeedsAnswer` instead of failing when it knows what to
do but not with what (which files), when, or to whom. The run then waits
for the person's answer (`orchestration.questions`), and planning starts
again with the answer.
"""

from __future__ import annotations

from typing import Literal

QuestionField = Literal["files", "when", "to"]
FIELDS: tuple[QuestionField, ...] = ("files", "when", "to")


class NeedsAnswer(Exception):
    """The request misses one detail; the message is the question to the person."""

    def __init__(self, field: QuestionField, question: str, *, hint: str = "") -> None:
        super().__init__(question)
        self.field: QuestionField = field
        self.question = question
        self.hint = hint  # e.g. "a date and time, like 'tomorrow at 10'"
