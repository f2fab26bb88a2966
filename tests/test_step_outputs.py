"""Step-output downloads serve only the run's own stored outputs (issue 8, security item 5).

A row's `{"$stored": path}` is never followed as a free path: a reference
that points anywhere but the file the engine writes for that workspace,
run and step is refused, in the download and when a later step reads it.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from orchestration.engine.outputs import ForeignOutputReference, load_output, output_path, store_output
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tools.drive import WorkspaceDrive

PAYROLL = "name,salary\ncharlie,210000\n"


@pytest.fixture
def b_payroll(workspace_b):
    drive = WorkspaceDrive(workspace_b.pk)
    drive.write_text("payroll.csv", PAYROLL)
    return f"{drive.prefix}/payroll.csv"


def _step_with_output(alice, workspace, output):
    execution = ExecutionFactory(workspace=workspace, user=alice, total_steps=1)
    return ExecutionStepFactory(execution=execution, step_number=1, tool="test.noop", output=output)


def _download(client, step):
    return client.get(reverse("orchestration:step_output", args=[step.execution_id, step.step_number]))


@pytest.mark.django_db
def test_it_serves_the_runs_own_stored_output(client, alice, workspace_a, settings):
    settings.ORCHESTRATE_OUTPUT_INLINE_BYTES = 10
    step = _step_with_output(alice, workspace_a, None)
    step.output = store_output(
        {"value": "large enough"}, workspace_id=workspace_a.pk, execution_id=step.execution_id, step_number=1
    )
    step.save(update_fields=["output"])
    client.force_login(alice)
    response = _download(client, step)
    assert response.status_code == 200
    assert json.loads(b"".join(response.streaming_content)) == {"value": "large enough"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forged",
    [
        "{b_payroll}",  # another workspace's drive file
        "outputs/{workspace_b}/{execution}/step-1.json/../../../../{b_payroll}",
        "outputs/{workspace_a}/{execution}/../../../{b_payroll}",
        "outputs/{workspace_b}/{execution}/step-1.json",  # the right run under another workspace
        "outputs/{workspace_a}/{other_run}/step-1.json",  # another run's output
        "outputs/{workspace_a}/{execution}/step-2.json",  # another step's output
    ],
)
def test_it_never_serves_a_forged_output_reference(client, alice, workspace_a, workspace_b, b_payroll, forged):
    step = _step_with_output(alice, workspace_a, None)
    other_run = ExecutionFactory(workspace=workspace_a, user=alice)
    path = forged.format(
        b_payroll=b_payroll,
        workspace_a=workspace_a.pk,
        workspace_b=workspace_b.pk,
        execution=step.execution_id,
        other_run=other_run.pk,
    )
    if path.startswith("outputs/") and ".." not in path:
        default_storage.save(path, ContentFile(PAYROLL.encode()))  # the file exists: only the check stops it
    step.output = {"$stored": path, "bytes": 30, "preview": ""}
    step.save(update_fields=["output"])

    client.force_login(alice)
    response = _download(client, step)

    assert response.status_code == 404
    with pytest.raises(ForeignOutputReference):
        load_output(step.output, execution_id=step.execution_id, step_number=1)


@pytest.mark.django_db
def test_it_keeps_a_tool_output_that_looks_like_a_reference_as_data(workspace_a, workspace_b, b_payroll):
    execution = ExecutionFactory(workspace=workspace_a)
    looks_like = {"$stored": b_payroll, "note": "a web page said so"}

    kept = store_output(looks_like, workspace_id=workspace_a.pk, execution_id=execution.pk, step_number=1)

    assert kept["$stored"] == output_path(workspace_id=workspace_a.pk, execution_id=execution.pk, step_number=1)
    assert load_output(kept, execution_id=execution.pk, step_number=1) == looks_like
