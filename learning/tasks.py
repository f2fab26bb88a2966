"""Celery tasks of the distributed mode: learn from one finished run; the nightly batch."""

from __future__ import annotations

from celery import shared_task

from learning.services import patterns


@shared_task(name="learning.learn_from_run", ignore_result=True)
def learn_from_run(execution_id: str) -> None:
    patterns.learn_from_run(execution_id)


@shared_task(name="learning.nightly", ignore_result=True)
def nightly() -> None:
    patterns.nightly()


def send_to_celery(execution_id: str) -> None:
    learn_from_run.apply_async(args=(execution_id,))
