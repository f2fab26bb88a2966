"""The rule planner against requests written as people write them (tests/planner_corpus.py).

Each request must plan to exactly the listed tools, in order, or ask the
person a question; it must never fail or plan something else. Over the
whole corpus at least 95% must be planned right at once.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from orchestration.planning.questions import NeedsAnswer
from orchestration.planning.rules import NoToolForRequest, plan_with_rules
from tests.planner_corpus import CORPUS, DRIVE
from tests.planner_corpus_he import CORPUS_HE

NOW = datetime(2026, 11, 23, 8, 0)  # a Monday morning


def outcome(text: str) -> tuple[str, ...] | str:
    """The plan's tools in order, "ask:<field>" for a question, "refuse" when nothing can serve it."""
    try:
        plan = plan_with_rules(text, now=NOW, me="alice@example.com", drive_names=DRIVE)
    except NeedsAnswer as question:
        return f"ask:{question.field}"
    except NoToolForRequest:
        return "refuse"
    return tuple(step["tool"] for step in plan["steps"])


def test_it_has_at_least_120_requests_with_their_tools():
    assert sum(1 for _, expected in CORPUS if isinstance(expected, tuple)) >= 120
    assert len({text.lower() for text, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("text", "expected"), CORPUS, ids=[text[:60] for text, _ in CORPUS])
def test_it_plans_the_request_or_asks(text, expected):
    got = outcome(text)
    if got != expected:
        # A miss is only acceptable as a question to the person, never a wrong plan or a refusal.
        assert isinstance(got, str), f"{text!r} planned {got}, expected {expected}"
        assert got.startswith("ask:"), f"{text!r} planned {got}, expected {expected}"


def test_it_plans_at_least_95_percent_of_the_corpus_right():
    right = sum(1 for text, expected in CORPUS if outcome(text) == expected)
    assert right / len(CORPUS) >= 0.95, f"{right} of {len(CORPUS)} planned right"


def test_it_has_at_least_60_hebrew_requests_with_their_tools():
    assert sum(1 for _, expected in CORPUS_HE if isinstance(expected, tuple)) >= 60
    assert len({text for text, _ in CORPUS_HE}) == len(CORPUS_HE)


@pytest.mark.parametrize(("text", "expected"), CORPUS_HE, ids=[text[:60] for text, _ in CORPUS_HE])
def test_it_plans_the_hebrew_request_or_asks(text, expected):
    got = outcome(text)
    if got != expected:
        assert isinstance(got, str), f"{text!r} planned {got}, expected {expected}"
        assert got.startswith("ask:"), f"{text!r} planned {got}, expected {expected}"


def test_it_plans_at_least_95_percent_of_the_hebrew_corpus_right():
    right = sum(1 for text, expected in CORPUS_HE if outcome(text) == expected)
    assert right / len(CORPUS_HE) >= 0.95, f"{right} of {len(CORPUS_HE)} planned right"
