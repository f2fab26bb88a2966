from __future__ import annotations

from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "learning"
    verbose_name = "Learning & feedback"

    def ready(self) -> None:
        from learning.receivers import record_feedback
        from orchestration.signals import run_finished

        run_finished.connect(record_feedback, dispatch_uid="learning.record_feedback")
