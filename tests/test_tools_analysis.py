from __future__ import annotations

import json

import pytest

from tests.support import run_tool, tool_call
from tools.base import ToolInputError
from tools.drive import WorkspaceDrive
from tools.registry import registry

Q1 = 'region,revenue,units,date,active\nNorth,"1,200.50",3,2024-01-05,yes\nSouth,300,,2024-01-20,no\n'
Q2 = "\ufeffregion;revenue;units\nNorth;100;2\nWest;50.25;1\nEast;;4\n"


@pytest.fixture
def drive(settings, tmp_path, workspace_a):
    settings.MEDIA_ROOT = tmp_path
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("q1-sales.csv", Q1)
    drive.write_text("q2-sales.csv", Q2)
    return drive


def describe(workspace, *files):
    return run_tool("analysis.describe", {"files": list(files)}, workspace.pk)


def test_it_profiles_each_column_of_a_csv(drive, workspace_a):
    table = describe(workspace_a, "q1-sales.csv").output["files"][0]

    assert table["name"] == "q1-sales.csv"
    assert table["format"] == "csv"
    assert table["rows"] == 2
    revenue = table["columns"]["revenue"]
    assert revenue["type"] == "number"
    assert (revenue["min"], revenue["max"], revenue["sum"], revenue["mean"]) == (300.0, 1200.5, 1500.5, 750.25)
    units = table["columns"]["units"]
    assert (units["type"], units["missing"], units["sum"], units["mean"]) == ("integer", 1, 3, 3.0)
    assert table["columns"]["date"]["type"] == "date"
    assert (table["columns"]["date"]["min"], table["columns"]["date"]["max"]) == ("2024-01-05", "2024-01-20")
    assert table["columns"]["active"]["type"] == "boolean"
    assert table["columns"]["region"] | {"top": None} == {
        "type": "text",
        "missing": 0,
        "min": None,
        "max": None,
        "mean": None,
        "sum": None,
        "distinct": 2,
        "top": None,
    }
    assert table["columns"]["region"]["top"] == [["North", 1], ["South", 1]]


def test_it_sniffs_semicolons_and_skips_a_bom(drive, workspace_a):
    table = describe(workspace_a, "q2-sales.csv").output["files"][0]

    assert list(table["columns"]) == ["region", "revenue", "units"]
    assert table["columns"]["revenue"]["sum"] == 150.25
    assert table["columns"]["revenue"]["missing"] == 1


def test_it_totals_same_named_numeric_columns_across_files(drive, workspace_a):
    result = describe(workspace_a, {"name": "q1-sales.csv", "size": 1}, "q2-sales.csv")

    revenue = result.output["totals"]["revenue"]
    assert revenue == {
        "sum": 1650.75,
        "count": 4,
        "min": 50.25,
        "max": 1200.5,
        "mean": 412.6875,
        "files": ["q1-sales.csv", "q2-sales.csv"],
    }
    assert result.output["totals"]["units"]["sum"] == 10
    assert "region" not in result.output["totals"]
    assert result.shared["analysis.q1-sales.csv"].startswith("q1-sales.csv: 2 rows, 5 columns (revenue sum 1500.5")


def test_it_describes_a_json_list_of_objects(drive, workspace_a):
    rows = [{"team": "a", "score": 3, "ok": True}, {"team": "b", "score": 4.5}, {"team": "c", "score": None}]
    drive.write_text("scores.json", json.dumps(rows))

    table = describe(workspace_a, "scores.json").output["files"][0]

    assert table["format"] == "json"
    assert list(table["columns"]) == ["team", "score", "ok"]
    assert table["columns"]["score"] | {"top": []} == {
        "type": "number",
        "missing": 1,
        "min": 3.0,
        "max": 4.5,
        "mean": 3.75,
        "sum": 7.5,
        "distinct": 2,
        "top": [],
    }
    assert table["columns"]["ok"]["missing"] == 2


def test_it_treats_leading_zero_codes_and_decimal_commas_as_text(drive, workspace_a):
    drive.write_text("codes.csv", "code;amount\n007;3,5\n012;4,25\n")

    columns = describe(workspace_a, "codes.csv").output["files"][0]["columns"]

    assert columns["code"]["type"] == "text"
    assert columns["amount"]["type"] == "text"


def test_it_skips_files_that_are_not_tables(drive, workspace_a):
    drive.write_text("notes.md", "# Notes")

    result = describe(workspace_a, "q1-sales.csv", "notes.md")

    assert [table["name"] for table in result.output["files"]] == ["q1-sales.csv"]
    assert result.output["skipped"] == [{"name": "notes.md", "reason": "not a CSV or JSON file"}]


def test_it_refuses_when_no_file_is_a_table(drive, workspace_a):
    drive.write_text("notes.md", "# Notes")

    with pytest.raises(ToolInputError, match=r"None of the files is a CSV or JSON file: notes\.md"):
        describe(workspace_a, "notes.md")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('a,b\n1,2\n3,"4\n', r"bad\.csv, line 3: malformed CSV \(unexpected end of data\)"),
        ("a,b\n1,2\n3,4,5\n", r"bad\.csv, line 3: 3 fields where the header has 2"),
        ("a,a\n1,2\n", r"bad\.csv, line 1: duplicate column name\(s\) a"),
        ("   \n", r"bad\.csv: the file is empty"),
    ],
)
def test_it_names_the_file_and_line_of_a_malformed_csv(drive, workspace_a, content, message):
    drive.write_text("bad.csv", content)

    with pytest.raises(ToolInputError, match=message):
        describe(workspace_a, "bad.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"a": 1},\n {"a": 2,}]', r"bad\.json, line 2 column 10: invalid JSON"),
        ('{"a": 1}', r"bad\.json: expected a JSON list of objects, found a dict"),
        ('[{"a": 1}, 2]', r"bad\.json: item 2 of the list is not an object"),
    ],
)
def test_it_names_the_problem_in_a_bad_json_file(drive, workspace_a, content, message):
    drive.write_text("bad.json", content)

    with pytest.raises(ToolInputError, match=message):
        describe(workspace_a, "bad.json")


def test_it_reports_a_missing_file(drive, workspace_a):
    with pytest.raises(ToolInputError, match=r"No file named 'q3-sales\.csv'"):
        describe(workspace_a, "q3-sales.csv")


def test_it_rejects_names_outside_the_drive(drive, workspace_a):
    with pytest.raises(ToolInputError, match=r"Invalid file name"):
        describe(workspace_a, "../q1-sales.csv")


def test_it_fingerprints_the_files_contents_for_the_cache(drive, workspace_a):
    tool = registry.get("analysis.describe")
    call = tool_call({"files": ["q1-sales.csv", "q2-sales.csv"]}, workspace_a.pk)

    before = tool.cache_fingerprint(call)
    assert before == tool.cache_fingerprint(call)
    drive.write_text("q2-sales.csv", Q2 + "South;1;1\n")

    assert len(before) == 64
    assert tool.cache_fingerprint(call) != before
    assert tool.cacheable


def test_it_reports_progress_per_file(drive, workspace_a):
    progress = []
    call = tool_call({"files": ["q1-sales.csv", "q2-sales.csv"]}, workspace_a.pk)
    call.report_progress = progress.append

    registry.get("analysis.describe").run(call)

    assert progress == [{"files_done": 1, "files_total": 2}, {"files_done": 2, "files_total": 2}]
