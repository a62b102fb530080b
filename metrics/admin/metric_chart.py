"""A chart panel per listed user-defined metric, under the visitors/pageviews chart.

The same technique as `chart.py`: geometry computed here, SVG drawn by the template
(`admin/metrics/weeklymetric/metric_panels.html`), no JavaScript. Each panel spans the same
weeks with the same x positions as the chart above it, so weeks line up; its line is the
metric per week (dashed into the week in progress), its target (if any) a horizontal line.
"""

import dataclasses
import datetime as dt
import math

from metrics.admin.chart import LEFT, RIGHT, WIDTH, Tick, WeeklyChart, _path
from metrics.admin.metric_text import formatted
from metrics.core import weeks
from metrics.core.definitions import MetricDefinition

HEIGHT = 150
TOP, BOTTOM = 28, 118  # the plot's top and bottom; x labels below


@dataclasses.dataclass(frozen=True)
class Point:
    week_start: dt.date
    x: float
    y: float
    text: str
    in_progress: bool


@dataclasses.dataclass(frozen=True)
class Panel:
    key: str
    name: str
    unit: str
    points: list[Point]
    path: str  # complete weeks, solid
    in_progress_path: str  # into the current week, dashed
    ticks: list[Tick]
    x_ticks: list[Tick]
    target_y: float | None  # None: no target
    target_text: str
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP
    bottom: int = BOTTOM
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT


def panels(chart: WeeklyChart | None, definitions: tuple[MetricDefinition, ...]) -> list[Panel]:
    """A panel for each user-defined metric marked in_admin_list, over `chart`'s weeks (none
    without a chart), from the numbers the chart read (`WeeklyChart.metrics`): no query."""
    listed = [d for d in definitions if d.in_admin_list and not d.built_in]
    if chart is None or not listed:
        return []
    slots = list(weeks.week_range(chart.first_week, chart.last_week))
    values = chart.metrics  # the stored weeks only
    current = weeks.current_week_start()
    return [_panel(d, slots, values, current=current) for d in listed]


def _panel(definition: MetricDefinition, slots: list[dt.date], values, *, current: dt.date) -> Panel:
    width_slots = max(len(slots), 8)  # as chart.build_chart lays out the weeks
    slot = (WIDTH - RIGHT - LEFT) / width_slots
    offset = LEFT + slot * (width_slots - len(slots))
    scale = 100.0 if definition.unit == "percent" else 1.0  # a percent ratio is drawn in percent
    numbers = {week: values[week].get(definition.key) for week in slots if week in values}
    highest = max([v * scale for v in numbers.values() if v is not None], default=0.0)
    if definition.target is not None:
        highest = max(highest, definition.target * scale)
    top = _nice_ceiling(highest)

    def y(value: float) -> float:
        return round(BOTTOM - (BOTTOM - TOP) * value * scale / top, 1)

    points = [
        Point(
            week,
            round(offset + slot * (index + 0.5), 1),
            y(numbers[week]),
            formatted(numbers[week], unit=definition.unit, kind=definition.kind),
            week == current,
        )
        for index, week in enumerate(slots)
        if numbers.get(week) is not None
    ]
    complete = [point for point in points if not point.in_progress]
    dashed = ""
    if len(points) >= 2 and points[-1].in_progress and points[-2].week_start == current - weeks.ONE_WEEK:
        dashed = f"M{points[-2].x} {points[-2].y} L{points[-1].x} {points[-1].y}"
    suffix = "%" if definition.unit == "percent" else ""
    ticks = [
        Tick(round(BOTTOM - (BOTTOM - TOP) * step / 4, 1), f"{top * step / 4:,g}{suffix}")
        for step in range(5)
    ]
    x_ticks = [
        Tick(round(offset + slot * (index + 0.5), 1), f"{week:%b} {week.day}")
        for index, week in enumerate(slots)
        if (len(slots) - 1 - index) % 4 == 0
    ]
    target = definition.target
    return Panel(
        key=definition.key,
        name=definition.name,
        unit=definition.unit,
        points=points,
        path=_path([(point.week_start, point.x, point.y) for point in complete]),
        in_progress_path=dashed,
        ticks=ticks,
        x_ticks=x_ticks,
        target_y=y(target) if target is not None else None,
        target_text=formatted(target, unit=definition.unit, kind=definition.kind)
        if target is not None
        else "",
    )


def _nice_ceiling(value: float) -> float:
    """The smallest round number >= value (1, 2, 2.5, 4, 5, 8 or 10 times a power of ten): the
    scale's top, split in four ticks. Fractions stay fractions (a sum of cents, a ratio)."""
    if value <= 0:
        return 4.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 4, 5, 8, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude
