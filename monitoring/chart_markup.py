"""A chart's markup, written in Python: the SVG, its legend and its data table.

The same markup `templates/monitoring/inc/chart.html` used to loop out,
built with string joins: the 30-day page has some 700 bars and table cells,
and Django's template loops spent about 150 ms on them, more than the
figures cost. Every text that comes from data is escaped here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext

if TYPE_CHECKING:
    from monitoring.charts import Chart

LABEL_CHARS = 26  # row labels of horizontal charts are cut to this many characters


def number(value: float) -> str:
    """A coordinate as the template printed it."""
    return str(value)


def chart_markup(chart: Chart) -> SafeString:
    cid = escape(chart.chart_id)
    title = escape(chart.title)
    left, right, bottom = number(chart.plot_left), number(chart.plot_right), number(chart.plot_bottom)
    parts = [
        f'<figure id="{cid}" class="card chart-card chart">\n',
        f'  <figcaption><h2 id="{cid}-title">{title}</h2></figcaption>\n',
        f'  <svg dir="ltr" viewBox="0 0 {chart.width} {chart.height}" width="100%" role="img" '
        f'aria-labelledby="{cid}-svg-title {cid}-desc" class="chart-svg">\n',
        f'    <title id="{cid}-svg-title">{title}</title>\n',
        f'    <desc id="{cid}-desc">{escape(chart.description)}</desc>\n',
    ]
    for tick in chart.y_ticks:
        y = number(tick.position)
        parts.append(f'    <line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"></line>\n')
        parts.append(
            f'    <text class="axis" x="{int(chart.plot_left) - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(tick.label)}</text>\n'
        )
    for tick in chart.labels:
        label = escape(Truncator(tick.label).chars(LABEL_CHARS))
        parts.append(
            f'    <text class="axis row-label" x="{int(chart.plot_left) - 8}" y="{number(tick.position)}" '
            f'text-anchor="end" dominant-baseline="middle">{label}</text>\n'
        )
    parts.append(f'    <line class="axis-line" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"></line>\n')
    parts.extend(
        f'    <rect class="bar {escape(r.css)}" x="{r.x}" y="{r.y}" width="{r.width}" height="{r.height}">'
        f"<title>{escape(r.title)}</title></rect>\n"
        for r in chart.rects
    )
    below = int(chart.plot_bottom) + 16
    parts.extend(
        f'    <text class="axis" x="{number(t.position)}" y="{below}" text-anchor="{escape(t.anchor)}">'
        f"{escape(t.label)}</text>\n"
        for t in chart.x_ticks
    )
    if chart.empty:
        note = escape(gettext("No data in this range"))
        parts.append(f'    <text class="axis empty-note" x="50%" y="45%" text-anchor="middle">{note}</text>\n')
    parts.append("  </svg>\n")
    if chart.legend:
        items = "".join(
            f'<li><span class="swatch {escape(css)}"></span>{escape(name)}</li>' for css, name in chart.legend
        )
        parts.append(f'  <ul class="legend" aria-hidden="true">{items}</ul>\n')
    head = "".join(f'<th scope="col">{escape(column)}</th>' for column in chart.columns)
    if chart.rows:
        body = "".join(
            f'<tr><th scope="row">{escape(row[0])}</th>'
            + "".join(f'<td class="num">{escape(cell)}</td>' for cell in row[1:])
            + "</tr>"
            for row in chart.rows
        )
    else:
        body = f'<tr><td colspan="{len(chart.columns)}">{escape(gettext("No data in this range."))}</td></tr>'
    parts.append(
        f'  <details class="chart-data">\n    <summary>{escape(gettext("Data table"))}</summary>\n'
        '    <table class="list compact">\n'
        f"      <thead><tr>{head}</tr></thead>\n      <tbody>\n        {body}\n      </tbody>\n"
        "    </table>\n  </details>\n</figure>\n"
    )
    return mark_safe("".join(parts))  # every value above is escaped
