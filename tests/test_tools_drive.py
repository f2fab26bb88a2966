from __future__ import annotations

import jsonschema
import pytest

from tests.support import run_tool
from tools.base import ToolError, ToolInputError
from tools.drive import WorkspaceDrive
from tools.registry import registry


@pytest.fixture
def drive(settings, tmp_path, workspace_a):
    settings.MEDIA_ROOT = tmp_path
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("sales/2024-q1-sales.csv", "region,revenue\nnorth,100\n")
    drive.write_text("sales/2024-q2-sales.csv", "region,revenue\nsouth,250\n")
    drive.write_text("notes/meeting.md", "# Meeting\nWe agreed to review the Budget.\n")
    drive.write_bytes("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    return drive


def test_it_lists_every_file_with_sizes_and_dates(drive, workspace_a):
    result = run_tool("drive.list", {}, workspace_a.pk)

    assert result.output["count"] == 4
    names = [file["name"] for file in result.output["files"]]
    assert names == ["logo.png", "notes/meeting.md", "sales/2024-q1-sales.csv", "sales/2024-q2-sales.csv"]
    first = result.output["files"][2]
    assert first["size"] == len("region,revenue\nnorth,100\n")
    assert first["modified_at"]


def test_it_lists_only_files_matching_the_pattern(drive, workspace_a):
    result = run_tool("drive.list", {"pattern": "*.md"}, workspace_a.pk)

    assert [file["name"] for file in result.output["files"]] == ["notes/meeting.md"]


def test_it_finds_files_by_glob_and_shares_their_names(drive, workspace_a):
    result = run_tool("drive.search", {"pattern": "*SALES*.csv"}, workspace_a.pk)

    assert result.output["count"] == 2
    assert result.shared == {"files.found": ["sales/2024-q1-sales.csv", "sales/2024-q2-sales.csv"]}


def test_it_keeps_only_text_files_containing_the_text(drive, workspace_a):
    result = run_tool("drive.search", {"pattern": "*", "contains": "budget"}, workspace_a.pk)

    assert [file["name"] for file in result.output["files"]] == ["notes/meeting.md"]


def test_it_fails_clearly_when_nothing_matches(drive, workspace_a):
    with pytest.raises(ToolError, match=r"No files in the drive match '\*invoices\*\.csv'"):
        run_tool("drive.search", {"pattern": "*invoices*.csv"}, workspace_a.pk)


def test_it_does_not_see_another_workspaces_files(drive, workspace_b):
    with pytest.raises(ToolError, match=r"No files"):
        run_tool("drive.search", {"pattern": "*.csv"}, workspace_b.pk)


def test_it_reads_one_or_several_text_files(drive, workspace_a):
    one = run_tool("drive.read", {"name": "notes/meeting.md"}, workspace_a.pk)
    several = run_tool(
        "drive.read", {"names": ["sales/2024-q1-sales.csv", {"name": "sales/2024-q2-sales.csv"}]}, workspace_a.pk
    )

    assert one.output["files"] == [
        {"name": "notes/meeting.md", "size": 42, "text": "# Meeting\nWe agreed to review the Budget.\n"}
    ]
    assert [file["text"] for file in several.output["files"]] == [
        "region,revenue\nnorth,100\n",
        "region,revenue\nsouth,250\n",
    ]


def test_it_refuses_to_read_binary_files(drive, workspace_a):
    with pytest.raises(ToolInputError, match=r"'logo\.png' is a binary file"):
        run_tool("drive.read", {"name": "logo.png"}, workspace_a.pk)


def test_it_reports_a_missing_file_as_bad_input(drive, workspace_a):
    with pytest.raises(ToolInputError, match=r"No file named 'nope\.txt'"):
        run_tool("drive.read", {"name": "nope.txt"}, workspace_a.pk)


@pytest.mark.parametrize("name", ["../secrets.txt", "notes/../../x", "..", "a\\b"])
def test_it_rejects_names_that_leave_the_drive(drive, workspace_a, name):
    with pytest.raises(ToolInputError, match=r"Invalid file name"):
        run_tool("drive.read", {"name": name}, workspace_a.pk)
    with pytest.raises(ToolInputError, match=r"Invalid file name"):
        run_tool("drive.write", {"name": name, "content": "x"}, workspace_a.pk)


def test_it_writes_a_file_once_however_often_it_runs(drive, workspace_a, tmp_path):
    for _ in range(2):
        result = run_tool("drive.write", {"name": "out/hello.txt", "content": "Hello"}, workspace_a.pk)

    assert result.output["path"] == "out/hello.txt"
    assert result.output["size"] == 5
    assert drive.read_text("out/hello.txt") == "Hello"
    assert [path.name for path in (tmp_path / "drive" / str(workspace_a.pk) / "out").iterdir()] == ["hello.txt"]


def test_it_overwrites_a_file_with_new_content(drive, workspace_a):
    run_tool("drive.write", {"name": "out/hello.txt", "content": "Hello"}, workspace_a.pk)
    run_tool("drive.write", {"name": "out/hello.txt", "content": {"greeting": "Hi"}}, workspace_a.pk)

    assert drive.read_text("out/hello.txt") == '{\n  "greeting": "Hi"\n}'


def test_it_locks_the_file_it_writes(workspace_a):
    tool = registry.get("drive.write")

    assert tool.resources({"name": "/out/./a.txt", "content": ""}, "w1") == ["drive:w1:out/a.txt"]
    assert tool.resources({"name": "../a.txt", "content": ""}, "w1") == []


@pytest.mark.parametrize(
    ("name", "tool_input"),
    [
        ("drive.list", {"pattern": ""}),
        ("drive.search", {"glob": "*.csv"}),
        ("drive.read", {}),
        ("drive.read", {"name": "a", "names": ["b"]}),
        ("drive.write", {"name": "a.txt"}),
    ],
)
def test_it_declares_schemas_that_reject_bad_input(name, tool_input):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tool_input, registry.get(name).input_schema, cls=jsonschema.Draft202012Validator)
