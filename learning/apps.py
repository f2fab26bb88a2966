from __future__ import annotations

from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "learning"
    verbose_name = "Learning & feedback"

    def ready(self) -> None:
        from learning import tasks
        from learning.receivers import record_feedback
        from learning.services import abtests, jobs, patterns
        from orchestration.planning.learned import use_learned_planner, use_prompt_chooser
        from orchestration.signals import run_finished

        run_finished.connect(record_feedback, dispatch_uid="learning.record_feedback")
        # Planning asks what was learned first; it knows learning only through these two hooks.
        use_learned_planner(patterns.plan_for_request)
        use_prompt_chooser(abtests.prompt_for_run)
        jobs.use_learner(patterns.learn_from_run, tasks.send_to_celery)
