"""Rating a run over the API: PUT /api/v1/executions/<id>/rating/ (one rating per person, changeable)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from learning.models import ExecutionFeedback, RunRating
from orchestration.models import ExecutionStatus
from tenancy.tokens import create_token
from tests.factories.orchestration import ExecutionFactory

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
    return client


def _url(execution) -> str:
    return f"/api/v1/executions/{execution.pk}/rating/"


def test_it_rates_a_finished_run_and_changes_the_rating(alice, bob, workspace_a):
    run = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.SUCCEEDED)

    first = _client(alice).put(_url(run), {"rating": 2, "comment": "slow"}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["your_rating"] == 2
    again = _client(alice).put(_url(run), {"rating": 5, "comment": "fine after all"}, format="json")
    assert again.json()["your_rating"] == 5
    _client(bob).put(_url(run), {"rating": 4}, format="json")

    assert RunRating.objects.filter(execution=run).count() == 2  # one per person
    feedback = ExecutionFeedback.objects.get(execution=run)
    assert (feedback.user_rating, feedback.user_comment) == (4, "fine after all")  # mean 4.5 rounds to 4
    shown = _client(bob).get(_url(run)).json()
    assert (shown["your_rating"], shown["mean_rating"], shown["success"]) == (4, 4, True)


def test_it_refuses_bad_ratings_and_unfinished_runs(alice, workspace_a):
    finished = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.FAILED)
    running = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.RUNNING)
    api = _client(alice)

    assert api.put(_url(finished), {"rating": 6}, format="json").status_code == 400
    assert api.put(_url(finished), {"rating": "x"}, format="json").status_code == 400
    assert api.put(_url(finished), {"rating": 3, "comment": "x" * 2001}, format="json").status_code == 400
    refused = api.put(_url(running), {"rating": 3}, format="json")
    assert refused.status_code == 409
    assert "finished" in refused.json()["detail"]
    assert not RunRating.objects.exists()


def test_it_answers_404_for_another_workspaces_run(alice, charlie, workspace_a):
    run = ExecutionFactory.create(workspace=workspace_a, user=alice, status=ExecutionStatus.SUCCEEDED)

    assert _client(charlie).put(_url(run), {"rating": 1}, format="json").status_code == 404
    assert _client(charlie).get(_url(run)).status_code == 404
    assert not RunRating.objects.exists()
