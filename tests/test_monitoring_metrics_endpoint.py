"""/metrics: Prometheus text format, for allow-listed addresses or the bearer token only."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.metrics import record_many
from monitoring.models import Metric
from orchestration.models import ExecutionStatus
from tests.factories.orchestration import ExecutionFactory

URL = "/metrics"
pytestmark = pytest.mark.django_db


def _samples(response) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_it_answers_loopback_by_default_and_refuses_other_addresses(client):
    assert client.get(URL, REMOTE_ADDR="127.0.0.1").status_code == 200
    refused = client.get(URL, REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_it_accepts_the_bearer_token_from_anywhere(client, settings):
    settings.ORCHESTRATE_METRICS_TOKEN = "s3cret-token-value"
    settings.ORCHESTRATE_METRICS_ALLOW = ["10.0.0.0/8"]

    assert client.get(URL, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(URL, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token-value").status_code == 200
    assert client.get(URL, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(URL, REMOTE_ADDR="127.0.0.1").status_code == 401  # the allow-list replaced the default


def test_it_reports_runs_by_status_from_the_tables_and_counts_finished_runs(client, workspace_a):
    ExecutionFactory.create_batch(2, workspace=workspace_a, status=ExecutionStatus.SUCCEEDED)
    ExecutionFactory(workspace=workspace_a, status=ExecutionStatus.RUNNING)
    before = _samples(client.get(URL)).get(("orchestrate_runs_finished_total", (("status", "failed"),)), 0)

    record_many([("execution.duration_ms", 1500, {"status": "failed"}), ("step.tokens", 7, {"tool": "llm.chat"})])
    samples = _samples(client.get(URL))

    assert samples[("orchestrate_runs", (("status", "succeeded"),))] == 2
    assert samples[("orchestrate_runs", (("status", "running"),))] == 1
    assert samples[("orchestrate_runs_finished_total", (("status", "failed"),))] == before + 1
    assert samples[("orchestrate_queue_depth", ())] == 0
    assert ("orchestrate_tokens_total", (("tool", "llm.chat"),)) in samples
    assert Metric.objects.count() == 2


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.0/33"])
def test_a_bad_allow_list_stops_start_up(value, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.env import env_networks

    monkeypatch.setenv("ORCHESTRATE_METRICS_ALLOW", value)
    with pytest.raises(ImproperlyConfigured, match="ORCHESTRATE_METRICS_ALLOW"):
        env_networks("ORCHESTRATE_METRICS_ALLOW", [])


def test_the_exposition_is_text_format(client):
    response = client.get(URL)
    assert response["Content-Type"].startswith("text/plain; version=")
    assert re.search(r"^# TYPE orchestrate_runs gauge$", response.content.decode(), re.M)
