"""A step's row of the execution page, built in Python rather than by a template.

A live page gets a row for every step that changed, and the page of a long
run shows hundreds of them. Through Django's template engine a row cost
0.3-0.4 ms in the server (the engine's worker threads share that
interpreter, so an embedded run slowed while its pages were sent rows) and
opening the page of a 200-step run took half a second. Built here a row
costs a tenth of that. Every value is escaped; the fixed words are
translated once per language (`row_words`). The page, the htmx answers and
the live frames all use this one function (templates through the
`step_row` tag), so a live update shows exactly what a reload would.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from orchestration.durations import duration_text
from orchestration.models import StepStatus
from safety.reasons import localised_waiting

if TYPE_CHECKING:
    from orchestration.fragments import StepView


@dataclass(frozen=True)
class RowWords:
    """A step row's fixed words in one language (catalogue lookups per word and row were a third of a row).

    Trusted text from our own catalogue, put in the row as `{% translate %}` puts it."""

    step_number: str  # "Step %(number)s"
    statuses: dict[str, str]
    cached: str
    optional: str
    waiting_for: str  # "Waiting for %(what)s"
    waits_for_approval: str
    open_approvals: str
    duration: str
    tokens: str
    attempts: str
    depends_on: str
    input: str
    output: str
    preview: str  # "(preview; %(size)s in all)"
    download_output: str
    file: str


@cache
def row_words(language: str | None) -> RowWords:
    with translation.override(language):
        return RowWords(
            step_number=gettext("Step %(number)s"),
            statuses={status.value: str(status.label) for status in StepStatus},
            cached=gettext("cached"),
            optional=gettext("optional"),
            waiting_for=gettext("Waiting for %(what)s"),
            waits_for_approval=gettext("This step waits for a person's approval."),
            open_approvals=gettext("Open the approvals queue"),
            duration=gettext("Duration"),
            tokens=gettext("Tokens"),
            attempts=gettext("Attempts"),
            depends_on=gettext("Depends on"),
            input=gettext("Input"),
            output=gettext("Output"),
            preview=gettext("(preview; %(size)s in all)"),
            download_output=gettext("Download the full output"),
            file=gettext("File:"),
        )


@cache
def _approvals_url() -> str:
    return escape(reverse("safety:queue"))


def step_row(view: StepView, execution: Any, *, oob: bool) -> SafeString:
    """The row's `<li>`: with `hx-swap-oob` when it replaces the row already on the page."""
    step, words = view.step, view.words
    number, status = step.step_number, escape(step.status)
    swap = ' hx-swap-oob="true"' if oob else ""
    html = [
        f'<li id="step-{number}" class="step step-{status}" data-status="{status}"{swap}>',
        '\n  <div class="step-head">',
        f'\n    <span class="step-number" aria-label="{escape(view.number_label)}">{number}</span>',
        f'\n    <span class="step-agent">{escape(step.agent_id)}</span>',
        f'\n    <code class="step-tool">{escape(step.tool)}</code>',
        f'\n    <span class="status status-{status}" data-status="{status}">{escape(view.status_label)}</span>',
    ]
    if step.cached:
        html.append(f'\n    <span class="badge badge-cached">{words.cached}</span>')
    if step.optional:
        html.append(f'\n    <span class="badge">{words.optional}</span>')
    html.append("\n  </div>")
    if step.waiting_for:
        waiting = words.waiting_for % {"what": escape(localised_waiting(step.waiting_for))}
        html.append(f'\n  <p class="waiting-for">{waiting}</p>')
    if view.waiting_approval:
        link = f'<a href="{_approvals_url()}">{words.open_approvals}</a>'
        html.append(f'\n  <p class="approval-note">{words.waits_for_approval} {link}</p>')
    depends_on = ", ".join(escape(number) for number in step.depends_on or ()) or "—"
    html += [
        '\n  <dl class="step-meta">',
        f"\n    <div><dt>{words.duration}</dt><dd>{escape(duration_text(step.duration_ms))}</dd></div>",
        f"\n    <div><dt>{words.tokens}</dt><dd>{escape(step.tokens_used)}</dd></div>",
        f"\n    <div><dt>{words.attempts}</dt><dd>{escape(step.attempts)}</dd></div>",
        f"\n    <div><dt>{words.depends_on}</dt><dd>{depends_on}</dd></div>",
        "\n  </dl>",
    ]
    if step.error:
        html.append(f'\n  <p class="error step-error">{escape(step.error)}</p>')
    opened = "" if view.input_large else " open"
    html.append(f'\n  <details class="io step-input"{opened}><summary>{words.input}</summary>')
    html.append(f"<pre>{escape(view.input_text)}</pre></details>")
    if view.output_text:
        opened = "" if view.output_large else " open"
        preview = ""
        if view.output_stored:
            preview = " " + words.preview % {"size": escape(filesizeformat(view.output_bytes or 0))}
        html.append(f'\n  <details class="io step-output"{opened}>\n    <summary>{words.output}{preview}</summary>')
        html.append(f"\n    <pre>{escape(view.output_text)}</pre>")
        if view.output_stored:
            url = escape(reverse("orchestration:step_output", args=[execution.pk, number]))
            html.append(f'\n    <p><a href="{url}" download>{words.download_output}</a></p>')
        html.append("\n  </details>")
    if view.produced_file:
        url = escape(reverse("orchestration:drive_file", args=[execution.workspace_id, view.produced_file]))
        link = f'<a href="{url}" download>{escape(view.produced_file)}</a>'
        html.append(f'\n  <p class="step-files">{words.file} {link}</p>')
    html.append("\n</li>")
    return mark_safe("".join(html))  # every value above is escaped
