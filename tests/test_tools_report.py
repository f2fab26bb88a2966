from __future__ import annotations

import pytest

from tests.support import run_tool
from tools.base import ToolInputError
from tools.drive import WorkspaceDrive
from tools.registry import registry


@pytest.fixture
def drive(settings, tmp_path, workspace_a):
    settings.MEDIA_ROOT = tmp_path
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("jan.csv", "region,revenue\nNorth,1200.5\nSouth,300\n")
    drive.write_text("feb.csv", "region,revenue\nNorth,100\nWest,\n")
    return drive


def test_it_writes_a_markdown_report_with_the_analysis_figures(drive, workspace_a):
    analysis = run_tool("analysis.describe", {"files": ["jan.csv", "feb.csv"]}, workspace_a.pk).output
    summary = {"summary": "Revenue fell in February.", "method": "extractive"}

    result = run_tool(
        "report.compose",
        {"title": "Sales review: Q1", "sections": [analysis, summary, "Prepared by Orchestrate."]},
        workspace_a.pk,
    )

    assert result.output["path"] == "reports/sales-review-q1.md"
    markdown = drive.read_text("reports/sales-review-q1.md")
    assert result.output["bytes"] == len(markdown.encode())
    assert result.output["preview"] == markdown[:500]
    assert markdown.startswith("# Sales review: Q1\n")
    assert "### jan.csv\n\n2 rows, 2 columns." in markdown
    assert "| Column | Type | Min | Max | Mean | Sum | Missing |" in markdown
    assert "| revenue | number | 300 | 1200.5 | 750.25 | 1500.5 | 0 |" in markdown
    assert "| revenue | integer | 100 | 100 | 100 | 100 | 1 |" in markdown
    assert "### Totals across files" in markdown
    assert "| revenue | 1600.5 | 533.5 | 100 | 1200.5 | 3 | 2 |" in markdown
    assert "## Summary\n\nRevenue fell in February." in markdown
    assert markdown.rstrip().endswith("Prepared by Orchestrate.")
    assert result.shared == {"report.path": "reports/sales-review-q1.md"}


def test_it_overwrites_the_same_report_when_run_again(drive, workspace_a, tmp_path):
    for text in ("first", "second"):
        run_tool("report.compose", {"title": "Weekly", "sections": [text], "filename": "out/weekly.md"}, workspace_a.pk)

    assert drive.read_text("out/weekly.md") == "# Weekly\n\nsecond\n"
    assert [file.name for file in drive.list("*.md")] == ["out/weekly.md"]


def test_it_renders_other_outputs_readably(drive, workspace_a):
    sections = [
        {"content": "The model's answer.", "model": "m"},
        {"files": [{"name": "jan.csv", "size": 40}], "count": 1},
        {"heading": "Next steps", "text": "Book the review."},
        ["one", "two"],
        {"unknown": [1, 2]},
    ]

    result = run_tool("report.compose", {"title": "Mixed", "sections": sections}, workspace_a.pk)

    markdown = drive.read_text(result.output["path"])
    assert "The model's answer." in markdown
    assert "## Files\n\n- jan.csv (40 bytes)" in markdown
    assert "## Next steps\n\nBook the review." in markdown
    assert "- one\n- two" in markdown
    assert '```json\n{\n  "unknown": [\n    1,\n    2\n  ]\n}\n```' in markdown


def test_it_refuses_a_filename_outside_the_drive(drive, workspace_a):
    with pytest.raises(ToolInputError, match=r"Invalid file name"):
        run_tool("report.compose", {"title": "x", "sections": ["y"], "filename": "../../etc/x.md"}, workspace_a.pk)


def test_it_locks_the_report_file(workspace_a):
    tool = registry.get("report.compose")

    assert tool.resources({"title": "Sales Review", "sections": []}, "w1") == ["drive:w1:reports/sales-review.md"]
    assert tool.resources({"title": "!!!", "sections": []}, "w1") == ["drive:w1:reports/report.md"]
    assert tool.resources({"title": "x", "sections": [], "filename": "../x"}, "w1") == []


def test_it_writes_a_hebrew_report_with_hebrew_headings_right_to_left(drive, workspace_a):
    analysis = run_tool("analysis.describe", {"files": ["jan.csv", "feb.csv"]}, workspace_a.pk).output
    result = run_tool(
        "report.compose",
        {
            "title": "סכם את קבצי המכירות",
            "sections": [analysis, {"summary": "ההכנסות ירדו בפברואר, ראו feb.csv."}],
            "filename": "reports/סיכום-מכירות.md",
            "language": "he",
        },
        workspace_a.pk,
    )
    markdown = drive.read_text(result.output["path"])
    assert markdown.startswith('<div dir="rtl">\n\n# \u200fסכם את קבצי המכירות\n')
    assert "### jan.csv\n\n\u200f2 שורות, 2 עמודות." in markdown
    assert "| עמודה | סוג | מינימום | מקסימום | ממוצע | סכום | חסרים |" in markdown
    assert "| revenue | number | 300 | 1200.5 | 750.25 | 1500.5 | 0 |" in markdown  # figures as they were
    assert "## \u200fסיכום\n\n\u200fההכנסות ירדו בפברואר, ראו \u2066feb.csv\u2069." in markdown
