"""A drive file name can't break a page: unsafe names are refused or normalised at every
entry point (upload, tools, command line), and a name stored before is shown safely."""

from __future__ import annotations

import tracemalloc
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from orchestration.views.drive import save_uploads
from tests.support import run_tool
from tools.base import ToolError
from tools.drive import DriveError, WorkspaceDrive, clean_name

UNSAFE = [
    "line\nbreak.csv",
    "carriage\rreturn.csv",
    "tab\there.csv",
    "nul\x00.csv",
    "bell\x07.csv",
    "del\x7f.csv",
    "next-line\x85.csv",
    "line\u2028separator.csv",
    "evil\u202egpj.exe",  # right-to-left override: shows as "evilexe.jpg"
    "zero\u200bwidth.csv",
    "<img src=x onerror=alert(1)>.html",
    'quote".csv',
    "pipe|.csv",
    "star*.csv",
    "back\\slash.csv",
]


@pytest.fixture
def drive(settings, tmp_path, workspace_a):
    settings.MEDIA_ROOT = tmp_path / "media"
    return WorkspaceDrive(workspace_a.pk)


@pytest.mark.parametrize("name", UNSAFE)
def test_it_refuses_unsafe_names_with_a_readable_message(name):
    with pytest.raises(DriveError) as refused:
        clean_name(name)
    message = str(refused.value)
    assert "may not contain" in message
    assert "\n" not in message
    assert "\r" not in message


def test_it_normalises_spaces_and_unicode_forms():
    assert clean_name("  reports / q1 summary.md ") == "reports/q1 summary.md"
    assert clean_name("cafe\u0301.csv") == "caf\u00e9.csv"  # one file whichever way the é was typed


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["line\nbreak.md", "evil\u202egpj.md", "a<b>.md"])
def test_it_refuses_unsafe_names_in_the_drive_write_tool(drive, workspace_a, name):
    with pytest.raises(ToolError):
        run_tool("drive.write", {"name": name, "content": "x"}, workspace_a.pk)
    assert drive.list() == []


@pytest.mark.django_db
def test_it_refuses_unsafe_names_on_the_command_line(drive, tmp_path):
    local = tmp_path / "plain.csv"
    local.write_text("a,b\n")
    with pytest.raises(CommandError, match="may not contain"):
        call_command("drive", "put", "--workspace", "A", str(local), "--as", "two\nlines.csv", stdout=StringIO())
    assert drive.list() == []


@pytest.mark.django_db
def test_it_refuses_or_normalises_unsafe_upload_names(client, alice, drive):
    client.force_login(alice)
    refused = client.post(reverse("orchestration:upload"), {"files": [SimpleUploadedFile("q1|q2.csv", b"x")]})
    assert "may not contain |" in refused.content.decode()
    # Django drops unprintable characters from uploaded names: what is left is a safe name.
    client.post(reverse("orchestration:upload"), {"files": [SimpleUploadedFile("evil\u202egpj.csv", b"x")]})
    assert [file.name for file in drive.list()] == ["evilgpj.csv"]


@pytest.mark.django_db
def test_it_shows_a_name_stored_before_the_rules_escaped_and_the_page_still_works(client, alice, drive, settings):
    folder = Path(settings.MEDIA_ROOT) / drive.prefix
    folder.mkdir(parents=True)
    (folder / "two\nlines<script>.csv").write_bytes(b"x")
    (folder / "fine.csv").write_bytes(b"y")
    client.force_login(alice)

    response = client.get(reverse("orchestration:index"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "two\\u000alines&lt;script&gt;.csv" in page
    assert "<script>.csv" not in page
    assert f'href="/orchestrate/files/{drive.prefix.split("/")[1]}/fine.csv"' in page
    listing = StringIO()
    call_command("drive", "ls", "--workspace", "A", stdout=listing)
    assert listing.getvalue().splitlines()[1].startswith("two\\u000alines<script>.csv\t1\t")


@pytest.mark.django_db
def test_it_streams_an_upload_to_disk_without_holding_it_in_memory(drive):
    size = 30 * 1024 * 1024
    upload = TemporaryUploadedFile("big.bin", "application/octet-stream", size, None)
    block = b"z" * (1024 * 1024)
    for _ in range(size // len(block)):
        upload.write(block)
    upload.seek(0)
    del block

    tracemalloc.start()
    try:
        save_uploads(drive, [("big.bin", upload)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()

    assert drive.stat("big.bin").size == size
    assert peak < 4 * 1024 * 1024, f"saving a 30 MB upload took {peak / 1e6:.1f} MB of memory"
