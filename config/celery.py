"""The Celery app for the distributed run mode (REDIS_URL set).

Configuration comes from Django settings (CELERY_* names), so there is one
place to read; tasks are found in each app's tasks module.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orchestrate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
