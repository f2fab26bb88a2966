"""Charts drawn on the server as SVG: geometry here, markup in monitoring/chart_markup.py.

Each chart is a dataclass drawn as an `<svg role="img">` with a
title and a description, plus a data table (the text alternative, shown on
request) with the same numbers. Colours come from CSS classes, so nothing
needs inline styles or scripts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.safestring import SafeString

from monitoring.chart_markup import chart_markup

WIDTH = 640
HEIGHT = 220
LEFT = 48
RIGHT = 12
TOP = 12
BOTTOM = 36
LABEL_WIDTH = 180  # horizontal bar charts: room for the labels on the left
ROW_HEIGHT = 26


def nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def short_number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")


@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str

    def __post_init__(self) -> None:
        # Rounded here: the template prints them as they are (floatformat costs more than the queries).
        self.x, self.y, self.width, self.height = (round(v, 1) for v in (self.x, self.y, self.width, self.height))


@dataclass
class Tick:
    position: float
    label: str
    anchor: str = "middle"

    def __post_init__(self) -> None:
        self.position = round(self.position, 1)


@dataclass
class Chart:
    """A drawn chart: what the template needs, all coordinates computed."""

    chart_id: str
    title: str
    description: str
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    labels: list[Tick] = field(default_factory=list)  # row labels of horizontal charts
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, name)
    columns: list[str] = field(default_factory=list)  # the data table
    rows: list[list[str]] = field(default_factory=list)
    empty: bool = False
    plot_left: float = LEFT
    plot_bottom: float = HEIGHT - BOTTOM
    plot_right: float = WIDTH - RIGHT

    @property
    def markup(self) -> SafeString:
        """The chart as HTML (templates/monitoring/inc/chart.html prints it)."""
        return chart_markup(self)


def stacked_columns(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    value_label: str = "runs",
    every: int = 1,
) -> Chart:
    """Vertical columns over time; `series` is (css class, name, one value per category), stacked."""
    chart = Chart(chart_id, title, description, WIDTH, HEIGHT)
    chart.legend = [(css, name) for css, name, _ in series]
    chart.columns = ["Time", *(name for _, name, _ in series)]
    totals = [sum(values[i] for _, _, values in series) for i in range(len(categories))]
    top = nice_max(max(totals, default=0))
    chart.empty = not any(totals)
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    bar = max(slot * 0.7, 1.0)
    for index, category in enumerate(categories):
        x = LEFT + index * slot + (slot - bar) / 2
        y = float(HEIGHT - BOTTOM)
        for css, name, values in series:
            value = values[index]
            if value <= 0:
                continue
            height = plot_height * value / top
            y -= height
            chart.rects.append(Rect(x, y, bar, height, css, f"{category}: {short_number(value)} {name.lower()}"))
        if index % every == 0:
            chart.x_ticks.append(Tick(LEFT + index * slot + slot / 2, category))
        chart.rows.append([category, *(short_number(values[index]) for _, _, values in series)])
    chart.y_ticks = [Tick(HEIGHT - BOTTOM - plot_height * f, short_number(top * f)) for f in (0, 0.5, 1)]
    chart.title = title
    chart.description = description or f"{value_label} per period"
    return chart


def horizontal_bars(
    chart_id: str,
    title: str,
    description: str,
    items: Sequence[tuple[str, Sequence[tuple[str, str, float]]]],
    *,
    unit: str = "",
    columns: Sequence[str] = (),
) -> Chart:
    """One row per label, with one or more bars each: (label, [(css class, name, value), ...])."""
    per_row = max((len(bars) for _, bars in items), default=1)
    height = TOP + BOTTOM + max(len(items), 1) * ROW_HEIGHT
    chart = Chart(chart_id, title, description, WIDTH, height, plot_left=LABEL_WIDTH, plot_bottom=height - BOTTOM)
    values = [value for _, bars in items for _, _, value in bars]
    top = nice_max(max(values, default=0))
    chart.empty = not items
    span = WIDTH - LABEL_WIDTH - RIGHT
    thickness = (ROW_HEIGHT - 6) / per_row
    legend: dict[str, str] = {}
    for index, (label, bars) in enumerate(items):
        row_top = TOP + index * ROW_HEIGHT + 3
        chart.labels.append(Tick(row_top + (ROW_HEIGHT - 6) / 2, label))
        for position, (css, name, value) in enumerate(bars):
            legend.setdefault(css, name)
            width = span * value / top if value > 0 else 0
            title_text = f"{label}: {name} {short_number(value)}{unit}".replace(":  ", ": ")
            chart.rects.append(Rect(LABEL_WIDTH, row_top + position * thickness, width, thickness - 1, css, title_text))
        chart.rows.append([label, *(f"{short_number(value)}{unit}" for _, _, value in bars)])
    chart.legend = list(legend.items()) if per_row > 1 else []
    chart.columns = list(columns) or ["", *(name for _, name, _ in (items[0][1] if items else []))]
    chart.x_ticks = [
        Tick(LABEL_WIDTH + span * f, f"{short_number(top * f)}{unit}", anchor)
        for f, anchor in ((0, "start"), (0.5, "middle"), (1, "end"))
    ]
    return chart
