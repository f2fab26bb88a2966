"""A Celery worker's console shows the level given with `-l` (config/celery.py)."""

from __future__ import annotations

import io
import logging

from celery.signals import after_setup_logger

import config.celery  # noqa: F401  (connects the worker's signal receivers)


def test_a_worker_at_warning_does_not_print_every_steps_info_lines():
    # What Celery sets up in a worker: its own console handler, with no level, on the top logger;
    # the domain loggers below pass INFO for the run pages' database handler.
    top = logging.getLogger("celery-logging-test")
    domain = logging.getLogger("celery-logging-test.orchestration")
    console = io.StringIO()
    handler = logging.StreamHandler(console)
    top.addHandler(handler)
    top.setLevel(logging.WARNING)
    domain.setLevel(logging.INFO)
    try:
        after_setup_logger.send(
            sender=None, logger=top, loglevel=logging.WARNING, logfile=None, format="%(message)s", colorize=False
        )
        domain.info("Step 1 (bench.noop) started, attempt 1")
        domain.warning("Step 2 will retry in 1s")
    finally:
        top.removeHandler(handler)

    assert console.getvalue() == "Step 2 will retry in 1s\n"
