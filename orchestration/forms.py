"""Forms of the console: submit a request, filter the runs, upload files to the drive."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from orchestration.models import ExecutionStatus
from tools.drive import DriveError, clean_name

# Per file. Uploads stream to a temporary file past Django's in-memory
# threshold, so the limit protects the drive's disk, not the server's memory.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_UPLOAD_FILES = 20
MAX_REQUEST_CHARS = 10_000


class SubmitForm(forms.Form):
    request = forms.CharField(
        label=_("Request"),
        max_length=MAX_REQUEST_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Summarise the sales CSVs in our drive…"}),
        error_messages={"required": _("Type a request to run.")},
    )


class ExecutionFilterForm(forms.Form):
    """Status and text filters of the executions list; bad values are ignored, not shown as errors."""

    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *ExecutionStatus.choices]
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=200)

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {"status": "", "q": ""}
        return {"status": self.cleaned_data["status"], "q": self.cleaned_data["q"].strip()}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = [file for file in (data if isinstance(data, list | tuple) else [data]) if file]
        if not files:
            return [super().clean(None, initial)]  # raises "required"
        return [super(MultipleFileField, self).clean(file, initial) for file in files]


def upload_name(file: UploadedFile) -> str:
    """The drive name of an uploaded file, or DriveError saying why it is refused.

    Browsers send base names only, and Django strips directories again; what
    is left is refused when it would be hidden (the engine keeps its own
    bookkeeping under a dot-folder) or could not be shown as a name.
    """
    name = clean_name(file.name or "")
    if "/" in name or name.startswith("."):
        raise DriveError(_("%(name)r: file names may not start with a dot or contain folders.") % {"name": name})
    if any(ord(char) < 32 for char in name) or len(name) > 200:
        raise DriveError(_("%(name)r: use a shorter name without control characters.") % {"name": name[:200]})
    return name


class UploadForm(forms.Form):
    # The form metaclass moves declared fields off the class, so this does not shadow Form.files
    # (the request's uploads) at run time; only the type checker sees the two share a name.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Files"), error_messages={"required": _("Choose one or more files to upload.")}
    )

    def clean_files(self) -> list[tuple[str, UploadedFile]]:
        """Every file with its drive name; all of them are refused if one is, so nothing half-uploads."""
        files: list[UploadedFile] = self.cleaned_data["files"]
        if len(files) > MAX_UPLOAD_FILES:
            raise forms.ValidationError(_("Upload at most %(count)d files at a time.") % {"count": MAX_UPLOAD_FILES})
        named: list[tuple[str, UploadedFile]] = []
        problems: list[str] = []
        for file in files:
            try:
                name = upload_name(file)
            except DriveError as exc:
                problems.append(str(exc))
                continue
            if file.size is not None and file.size > MAX_UPLOAD_BYTES:
                problems.append(
                    f"{name} is {filesizeformat(file.size)}; files may be at most {filesizeformat(MAX_UPLOAD_BYTES)}."
                )
                continue
            named.append((name, file))
        if problems:
            raise forms.ValidationError(problems)
        return named
