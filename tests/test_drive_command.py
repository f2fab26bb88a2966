from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tools.drive import WorkspaceDrive


@pytest.fixture
def drive(settings, tmp_path, workspace_a):
    settings.MEDIA_ROOT = tmp_path / "media"
    return WorkspaceDrive(workspace_a.pk)


@pytest.fixture
def local(tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "jan.csv").write_text("region,revenue\nNorth,10\n")
    (folder / "feb.csv").write_text("region,revenue\nSouth,20\n")
    return folder


def drive_command(*args: str) -> str:
    out = StringIO()
    call_command("drive", *args, stdout=out)
    return out.getvalue()


def test_it_puts_local_files_into_the_drive(drive, local):
    output = drive_command("put", "--workspace", "A", str(local / "jan.csv"), str(local / "feb.csv"))

    assert drive.read_text("jan.csv") == "region,revenue\nNorth,10\n"
    assert drive.read_text("feb.csv") == "region,revenue\nSouth,20\n"
    assert output == "jan.csv\t24\nfeb.csv\t24\n"


def test_it_puts_a_file_under_a_folder_or_another_name(drive, local):
    drive_command("put", "--workspace", "A", "--dir", "sales/2024", str(local / "jan.csv"))
    drive_command("put", "--workspace", "A", "--as", "renamed.csv", str(local / "feb.csv"))

    assert [file.name for file in drive.list()] == ["renamed.csv", "sales/2024/jan.csv"]


def test_it_lists_names_sizes_and_times(drive, local):
    drive.write_text("b.txt", "hello")
    drive.write_text("a/c.csv", "x,y\n")

    lines = drive_command("ls", "--workspace", "A").splitlines()

    assert [line.split("\t")[:2] for line in lines] == [["a/c.csv", "4"], ["b.txt", "5"]]
    assert all(len(line.split("\t")[2]) == len("2024-01-01 00:00:00") for line in lines)
    assert drive_command("ls", "--workspace", "A", "*.txt").startswith("b.txt\t5\t")


def test_it_gets_drive_files_into_a_folder(drive, tmp_path):
    drive.write_text("reports/q1.md", "# Q1\n")
    drive.write_text("reports/q2.md", "# Q2\n")
    out = tmp_path / "out"
    out.mkdir()

    drive_command("get", "--workspace", "A", "--out", str(out), "reports/*.md")

    assert sorted(path.name for path in out.iterdir()) == ["q1.md", "q2.md"]
    assert (out / "q2.md").read_text() == "# Q2\n"


def test_it_gets_into_the_current_folder_by_default(drive, tmp_path, monkeypatch):
    drive.write_text("notes.txt", "hi")
    monkeypatch.chdir(tmp_path)

    drive_command("get", "--workspace", "A", "notes.txt")

    assert (tmp_path / "notes.txt").read_text() == "hi"


def test_it_finds_the_workspace_by_id(drive, workspace_a, local):
    drive_command("put", "--workspace", str(workspace_a.pk), str(local / "jan.csv"))

    assert drive.exists("jan.csv")


def test_it_refuses_an_unknown_workspace(drive, local):
    with pytest.raises(CommandError, match=r"No workspace named 'Nowhere'"):
        drive_command("put", "--workspace", "Nowhere", str(local / "jan.csv"))


def test_it_writes_nothing_when_one_local_file_is_missing(drive, local):
    with pytest.raises(CommandError, match=r"no such local file: .*missing\.csv"):
        drive_command("put", "--workspace", "A", str(local / "jan.csv"), str(local / "missing.csv"))

    assert drive.list() == []


@pytest.mark.parametrize("bad", ["../escape.csv", "..", "a\\b.csv"])
def test_it_refuses_names_that_leave_the_drive(drive, local, bad):
    with pytest.raises(CommandError, match=r"Invalid file name"):
        drive_command("put", "--workspace", "A", "--as", bad, str(local / "jan.csv"))
    with pytest.raises(CommandError, match=r"Invalid file name"):
        drive_command("get", "--workspace", "A", bad)


def test_it_gets_nothing_when_one_drive_file_is_missing(drive, tmp_path):
    drive.write_text("here.txt", "x")
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(CommandError, match=r"no file named 'gone\.txt' in the drive"):
        drive_command("get", "--workspace", "A", "--out", str(out), "here.txt", "gone.txt")
    with pytest.raises(CommandError, match=r"no files in the drive match '\*\.pdf'"):
        drive_command("get", "--workspace", "A", "--out", str(out), "*.pdf")

    assert list(out.iterdir()) == []


def test_it_refuses_two_files_with_the_same_local_name(drive, tmp_path):
    drive.write_text("a/x.txt", "1")
    drive.write_text("b/x.txt", "2")

    with pytest.raises(CommandError, match=r"would both be written to x\.txt"):
        drive_command("get", "--workspace", "A", "--out", str(tmp_path), "a/x.txt", "b/x.txt")


def test_it_refuses_as_with_several_files(drive, local):
    with pytest.raises(CommandError, match=r"--as names one file"):
        drive_command("put", "--workspace", "A", "--as", "x.csv", str(local / "jan.csv"), str(local / "feb.csv"))
