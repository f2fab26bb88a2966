"""schemathesis against a live server: every operation of /api/schema/, with a token, answers within its schema.

schemathesis runs from its own virtualenv (`make schemathesis`): in the
project's, caldav's niquests installs urllib3-future over urllib3, which
the requests-based transport of schemathesis cannot drive.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from orchestration.models import AgentMessage, ExecutionStatus, SharedContext
from safety.models import PendingApproval
from tenancy.tokens import create_token
from tests.factories.orchestration import ExecutionFactory, ExecutionStepFactory
from tests.support.engine import ROOT
from tests.support.live_server import live_server
from tools.drive import WorkspaceDrive
from webhooks.services import create_webhook

SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
API_REQUEST = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE) /api/')


def _config(path: Path, ids: dict[str, str]) -> None:
    """Real ids for the path parameters, so operations reach objects instead of answering 404 to random ones."""
    blocks = [
        ("^/api/v1/executions/\\\\{id\\\\}", {"id": ids["execution"]}),
        ("^/api/v1/approvals/\\\\{id\\\\}", {"id": ids["approval"]}),
        ("^/api/v1/webhooks/\\\\{id\\\\}", {"id": ids["webhook"]}),
        ("^/api/v1/workspaces/\\\\{id\\\\}", {"id": ids["workspace"]}),
        ("^/api/v1/workspaces/\\\\{workspace_id\\\\}", {"workspace_id": ids["workspace"]}),
    ]
    lines = []
    for pattern, parameters in blocks:
        values = ", ".join(f'"path.{name}" = "{value}"' for name, value in parameters.items())
        lines += ["[[operations]]", f'include-path-regex = "{pattern}"', f"parameters = {{ {values} }}", ""]
    path.write_text("\n".join(lines))


@pytest.mark.django_db(transaction=True)
def test_it_answers_every_operation_within_its_schema(alice, workspace_a, tmp_path):
    if not SCHEMATHESIS.exists():
        pytest.skip(f"{SCHEMATHESIS} is missing: run `make schemathesis`")
    execution = ExecutionFactory(workspace=workspace_a, user=alice, status=ExecutionStatus.FAILED, total_steps=1)
    step = ExecutionStepFactory(execution=execution, step_number=1, tool="test.noop", status="failed")
    SharedContext.objects.create(execution=execution, key="found", value={"rows": 3}, created_by="drive")
    AgentMessage.objects.create(
        execution=execution, from_agent="orchestrator", to_agent="drive", message_type="REQUEST"
    )
    approval = PendingApproval.objects.create(execution=execution, step=step, action_type="test.critical", reason="r")
    webhook = create_webhook(
        alice, workspace_a, name="Orders", trigger_type="http", action_config={"request": "Order {{ payload.id }}"}
    ).webhook
    WorkspaceDrive(workspace_a.pk).write_text("sales.csv", "region,revenue\nnorth,1200\n")
    token = create_token(alice, "schemathesis").secret
    config = tmp_path / "schemathesis.toml"
    ids = {"execution": execution.pk, "approval": approval.pk, "webhook": webhook.pk, "workspace": workspace_a.pk}
    _config(config, {key: str(value) for key, value in ids.items()})
    report = tmp_path / "report.json"

    with live_server(API_RATE_LIMIT="100000/min", ORCHESTRATE_EMBEDDED_SCHEDULER="false") as server:
        run = subprocess.run(
            [
                *(str(SCHEMATHESIS), "--config-file", str(config), "run", f"{server.url}/api/schema/"),
                *("-H", f"Authorization: Bearer {token}", "--checks", CHECKS),
                # One worker: Hypothesis parses lambda sources with `ast.parse`, which is not thread-safe
                # on Python 3.11 before 3.11.9 ("AST constructor recursion depth mismatch"), and two
                # workers failed a CI run that way.
                *("--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "5", "--workers", "1"),
                *("--seed", "1", "--no-shrink", "--request-timeout", "30"),
                *("--report", "json", "--report-json-path", str(report)),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        requests_seen = sum(1 for line in server.output if API_REQUEST.search(line))

    summary = json.loads(report.read_text())
    print(
        f"schemathesis: {summary['operations']['tested']} operations, {summary['test_cases']['generated']} test cases, "
        f"{requests_seen} API requests received by the server, {len(summary['failures'])} failures"
    )
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "schemathesis.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[:20000]
    assert summary["operations"]["tested"] == summary["operations"]["selected"] >= 25
    assert summary["failures"] == []
    assert summary["errors"] == []
    assert requests_seen > 500
