"""Which of the steps a finished step made ready its worker runs next itself, and which it sends."""

from __future__ import annotations

import time

from orchestration.engine.dispatch import BATCH_AT_MOST, BATCHES_AT_LEAST, batches, continue_with, handed_off_to_workers


def test_it_keeps_one_ready_step_for_its_worker_and_sends_the_others():
    assert continue_with(["a", "b", "c"], until=time.monotonic() + 60) == ("a", ["b", "c"])
    assert continue_with(["a"], until=time.monotonic() + 60) == ("a", [])
    assert continue_with([], until=time.monotonic() + 60) == (None, [])


def test_it_sends_everything_once_the_workers_turn_is_over():
    assert continue_with(["a", "b"], until=time.monotonic() - 0.001) == (None, ["a", "b"])


def test_it_runs_nothing_here_while_handed_off_to_the_workers(settings):
    settings.ORCHESTRATE_RUN_MODE = "embedded"
    with handed_off_to_workers():
        assert continue_with(["a", "b"], until=time.monotonic() + 60) == (None, ["a", "b"])


def test_it_sends_a_few_ready_steps_one_per_message():
    ids = [f"s{n}" for n in range(BATCHES_AT_LEAST)]
    assert batches(ids) == [[step_id] for step_id in ids]


def test_it_sends_many_quick_steps_in_batches_each_once_in_order():
    ids = [f"s{n}" for n in range(999)]
    sent = batches(ids)
    assert [step_id for batch in sent for step_id in batch] == ids
    assert all(len(batch) <= BATCH_AT_MOST for batch in sent)
    assert len(sent) >= BATCHES_AT_LEAST
    assert len(sent) < len(ids) / 10  # far fewer messages than steps
