"""The Celery app for the distributed run mode (REDIS_URL set).

Configuration comes from Django settings (CELERY_* names), so there is one
place to read; tasks are found in each app's tasks module. Each worker's
main process also runs the sweeper (leader-elected, see
orchestration/engine/sweeper.py), so recovery never depends on beat alone.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutting_down

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orchestrate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def start_sweeper(**kwargs: Any) -> None:
    from orchestration.engine import sweeper

    sweeper.start_in_worker()


def stop_sweeper(**kwargs: Any) -> None:
    from orchestration.engine import sweeper

    sweeper.stop()


worker_ready.connect(start_sweeper, dispatch_uid="orchestrate-start-sweeper")
worker_shutting_down.connect(stop_sweeper, dispatch_uid="orchestrate-stop-sweeper")
