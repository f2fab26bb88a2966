"""Planning: the rule planner by default, the language model when configured, and fallback."""

from __future__ import annotations

import json
from datetime import date

import pytest

from orchestration.planning import NoToolForRequest, make_plan
from orchestration.planning.entities import extract
from orchestration.planning.questions import NeedsAnswer
from orchestration.planning.rules import plan_with_rules


def _tools(plan):
    return [(step["tool"], step["depends_on"]) for step in plan["steps"]]


def test_it_plans_the_spec_example_source_transform_sink():
    plan = plan_with_rules("summarise the sales CSV files and write a report")
    assert _tools(plan) == [("drive.search", []), ("analysis.describe", [1]), ("report.compose", [2])]
    assert plan["steps"][0]["input"] == {"pattern": "*sale*.csv"}
    assert plan["steps"][1]["input"] == {"files": {"$step": 1, "path": "files"}}
    assert plan["steps"][2]["input"]["sections"] == [{"$step": 2}]
    assert plan["steps"][2]["input"]["filename"].startswith("reports/summarise-the-sales-csv-files")


def test_it_reads_named_files_without_a_search():
    plan = plan_with_rules("analyse q1.csv and q2.csv")
    assert _tools(plan) == [("analysis.describe", [])]
    assert plan["steps"][0]["input"] == {"files": ["q1.csv", "q2.csv"]}


def test_it_summarises_text_files():
    plan = plan_with_rules("summarise the meeting notes files and write a report")
    assert [tool for tool, _ in _tools(plan)] == ["drive.search", "analysis.summarise", "report.compose"]


def test_it_extracts_entities():
    found = extract(
        "schedule a review tomorrow at 10:30 with alice@example.com, see https://example.com/x.json and q1.csv",
        today=date(2026, 11, 23),
    )
    assert found.emails == ["alice@example.com"]
    assert found.urls == ["https://example.com/x.json"]
    assert found.file_names == ["q1.csv"]
    assert found.dates == ["2026-11-24"]
    assert found.times == ["10:30"]
    assert extract("meet at 3pm on 2026-12-01").times == ["15:00"]
    assert extract("meet at 3pm on 2026-12-01").dates == ["2026-12-01"]


@pytest.mark.parametrize("request_text", ["make me a sandwich", "hello there"])
def test_it_refuses_what_no_tool_serves(request_text):
    with pytest.raises(
        NoToolForRequest,
        match=r"No tool can serve this request: I could not tell what to do with it\. Installed tools can",
    ):
        plan_with_rules(request_text)


def test_it_asks_which_files_when_a_request_names_none():
    with pytest.raises(NeedsAnswer, match="Which files should I use") as asked:
        plan_with_rules("compute the totals and write a report")
    assert asked.value.field == "files"


def test_it_asks_what_to_report_on():
    with pytest.raises(NeedsAnswer, match="Which files should I use") as asked:
        plan_with_rules("write a report")
    assert asked.value.field == "files"


def test_it_plans_model_work_only_when_a_model_is_configured(settings):
    settings.LLM_BASE_URL = None
    with pytest.raises(NoToolForRequest, match="needs a language model: set LLM_BASE_URL"):
        plan_with_rules("draft a polite reply to the supplier")
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    assert _tools(plan_with_rules("draft a polite reply to the supplier")) == [("llm.chat", [])]


@pytest.mark.django_db
def test_it_uses_a_valid_plan_from_the_model(openai_server):
    model_plan = {
        "steps": [
            {"number": 1, "tool": "drive.search", "input": {"pattern": "*.csv"}, "depends_on": []},
            {
                "number": 2,
                "tool": "analysis.describe",
                "input": {"files": {"$step": 1, "path": "files"}},
                "depends_on": [1],
            },
        ]
    }
    openai_server.reply(json.dumps(model_plan), prompt_tokens=120, completion_tokens=30)
    plan = make_plan("look at the csv files", execution_id="e1")
    assert plan["planner"] == "llm"
    assert _tools(plan) == [("drive.search", []), ("analysis.describe", [1])]
    assert plan["tokens_used"] == 150
    assert plan["steps"][1]["agent"] == "analysis"
    sent = openai_server.last_chat
    assert sent["response_format"] == {"type": "json_object"}
    catalogue = json.loads(sent["messages"][1]["content"])
    assert "drive.search" in {tool["name"] for tool in catalogue["tools"]}
    assert catalogue["request"] == "look at the csv files"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("this is not json", "not usable"),
        (json.dumps({"steps": [{"number": 1, "tool": "shell.exec", "input": {}}]}), "unknown tool 'shell.exec'"),
        (json.dumps({"steps": [{"number": 1, "tool": "analysis.describe", "input": {}}]}), "lacks required input"),
        (json.dumps({"plan": "do it"}), 'non-empty "steps"'),
    ],
)
def test_it_falls_back_to_the_rule_planner_when_the_model_answer_is_unusable(openai_server, reply, reason):
    openai_server.reply(reply)
    plan = make_plan("summarise the sales CSV files and write a report", execution_id="e2")
    assert plan["planner"] == "rules"
    assert reason in plan["fallback_reason"]
    assert [tool for tool, _ in _tools(plan)] == ["drive.search", "analysis.describe", "report.compose"]


@pytest.mark.django_db
def test_it_falls_back_when_the_model_is_down(openai_server):
    openai_server.fail(503, "overloaded")
    plan = make_plan("summarise the sales CSV files", execution_id="e3")
    assert plan["planner"] == "rules"
    assert "overloaded" in plan["fallback_reason"] or "503" in plan["fallback_reason"]


def test_it_plans_an_email_of_the_latest_report():
    plan = plan_with_rules("e-mail the report to bob@example.com")
    assert _tools(plan) == [("drive.search", []), ("email.send", [1])]
    assert plan["steps"][0]["input"] == {"pattern": "reports/*", "newest": 1}
    assert plan["steps"][1]["input"]["to"] == ["bob@example.com"]
    assert plan["steps"][1]["input"]["attachments"] == {"$step": 1, "path": "files"}


def test_it_plans_a_report_then_mails_it():
    plan = plan_with_rules("summarise the sales CSV files, write a report and e-mail it to bob@example.com")
    assert _tools(plan) == [
        ("drive.search", []),
        ("analysis.describe", [1]),
        ("report.compose", [2]),
        ("email.send", [3]),
    ]
    assert plan["steps"][3]["input"]["attachments"] == [{"$step": 3}]


def test_it_plans_a_meeting():
    plan = plan_with_rules("schedule a review meeting tomorrow at 10 with alice@example.com", today=date(2026, 11, 23))
    assert _tools(plan) == [("calendar.create_event", [])]
    event = plan["steps"][0]["input"]
    assert event["summary"] == "Review meeting"
    assert event["start"] == "2026-11-24T10:00:00"
    assert event["attendees"] == ["alice@example.com"]
    assert event["duration_minutes"] == 60


def test_it_asks_when_a_meeting_is():
    with pytest.raises(NeedsAnswer, match="When should it be") as asked:
        plan_with_rules("schedule a review meeting with alice@example.com")
    assert asked.value.field == "when"


def test_it_plans_fetching_and_summarising_a_page():
    plan = plan_with_rules("fetch https://example.com/news and summarise it")
    assert _tools(plan) == [("web.get", []), ("analysis.summarise", [1])]
    assert plan["steps"][1]["input"] == {"text": {"$step": 1, "path": "text"}}
