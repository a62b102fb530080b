"""The weekly visitors/pageviews chart above the WeeklyMetric list, as plain geometry.

Drawn on the server as SVG (template `admin/metrics/weeklymetric/chart.html`): no CDN and
no JavaScript library, so it works in deployments without internet access. This module
only computes coordinates; the template draws them.
"""

import dataclasses
import datetime as dt
import math

from metrics import numbers
from metrics.core import weeks
from metrics.core.definitions import MetricDefinition

WEEKS_SHOWN = 26
WIDTH, HEIGHT = 960, 380
LEFT, RIGHT = 64, 16  # margins left and right of both panels
# Two panels sharing the x axis, each with its own scale: visitors (line) above, pageviews
# (bars) below. On one axis, visitors sat flat under bars several times taller.
VISITORS_TOP, VISITORS_BOTTOM = 28, 178
PAGEVIEWS_TOP, PAGEVIEWS_BOTTOM = 214, 336


@dataclasses.dataclass(frozen=True)
class Bar:
    week_start: dt.date
    x: float  # left edge of the pageviews bar
    center: float
    width: float
    pageviews_y: float
    pageviews_height: float
    visitors_y: float
    visitors: int
    pageviews: int
    in_progress: bool
    last_year_visitors: int | None = None  # the week 52 weeks earlier, if stored
    last_year_y: float | None = None


@dataclasses.dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclasses.dataclass(frozen=True)
class WeeklyChart:
    bars: list[Bar]
    visitors_ticks: list[Tick]
    pageviews_ticks: list[Tick]
    x_ticks: list[Tick]
    visitors_path: str  # complete weeks, solid
    in_progress_path: str  # from the last complete week to the current one, dashed
    last_year_path: str  # the same weeks a year earlier, faint; empty if none stored
    first_week: dt.date
    last_week: dt.date
    # A built-in's target per week (from its Metric row) as a line across its panel; None: none.
    visitors_target_y: float | None = None
    pageviews_target_y: float | None = None
    targets: tuple[tuple[str, int], ...] = ()  # (metric key, target) for the legend
    # Every metric's number (the read model's Week.metrics) of each week shown, for metric_chart.
    metrics: dict[dt.date, dict[str, float | None]] = dataclasses.field(default_factory=dict)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    visitors_top: int = VISITORS_TOP
    visitors_bottom: int = VISITORS_BOTTOM
    pageviews_top: int = PAGEVIEWS_TOP
    pageviews_bottom: int = PAGEVIEWS_BOTTOM

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def current(self) -> Bar | None:
        return self.bars[-1] if self.bars and self.bars[-1].in_progress else None


def weekly_chart(
    *,
    weeks_shown: int = WEEKS_SHOWN,
    targets: dict[str, int] | None = None,
    definitions: tuple[MetricDefinition, ...] | None = None,
) -> WeeklyChart | None:
    """The chart of the last `weeks_shown` weeks through the current one, starting at the first
    stored week among them, with the same weeks a year earlier (one query), and `targets`
    (visitors, pageviews) as lines. None: fewer than two weeks of the period are stored (one
    point is not a chart; the page says why it waits)."""
    last = weeks.current_week_start()
    table = numbers.read_range(last - weeks.ONE_WEEK * (weeks_shown - 1), last, definitions=definitions)
    if len(table.weeks) < 2:
        return None
    first = table.weeks[0].week_start
    last_year = {
        week: visitors
        for week in weeks.week_range(first, last)
        if (visitors := table.last_year(week, "visitors")) is not None
    }
    return build_chart(table.weeks, first_week=first, last_week=last, last_year=last_year, targets=targets)


def build_chart(
    shown: list[numbers.Week],
    *,
    first_week: dt.date,
    last_week: dt.date,
    last_year: dict[dt.date, int] | None = None,
    targets: dict[str, int] | None = None,
) -> WeeklyChart:
    """Lay out the weeks `shown` and `last_year` (week → visitors of the same week last year,
    stored or not); weeks not stored are left blank."""
    last_year = last_year or {}
    targets = targets or {}
    slots = list(weeks.week_range(first_week, last_week))
    # At least 8 slots wide, so two or three weeks do not become bars a third of the page wide.
    width_slots = max(len(slots), 8)
    slot = (WIDTH - RIGHT - LEFT) / width_slots
    offset = LEFT + slot * (width_slots - len(slots))  # few weeks: flush right, next to today
    by_week = {week.week_start: week for week in shown}
    visitors_top = _nice_ceiling(
        max([*(week.value("visitors") for week in shown), *last_year.values(), targets.get("visitors", 0)])
    )
    pageviews_top = _nice_ceiling(
        max([*(week.value("pageviews") for week in shown), targets.get("pageviews", 0)])
    )

    def y_visitors(value: int) -> float:
        return round(VISITORS_BOTTOM - (VISITORS_BOTTOM - VISITORS_TOP) * value / visitors_top, 1)

    def y_pageviews(value: int) -> float:
        return round(PAGEVIEWS_BOTTOM - (PAGEVIEWS_BOTTOM - PAGEVIEWS_TOP) * value / pageviews_top, 1)

    bars = []
    year_points = []
    for index, week in enumerate(slots):
        center = offset + slot * (index + 0.5)
        if week in last_year:
            year_points.append((week, round(center, 1), y_visitors(last_year[week])))
        if week not in by_week:
            continue
        visitors, pageviews = by_week[week].value("visitors"), by_week[week].value("pageviews")
        bars.append(
            Bar(
                week_start=week,
                x=round(center - slot * 0.35, 1),
                center=round(center, 1),
                width=round(slot * 0.7, 1),
                pageviews_y=y_pageviews(pageviews),
                pageviews_height=round(PAGEVIEWS_BOTTOM - y_pageviews(pageviews), 1),
                visitors_y=y_visitors(visitors),
                visitors=visitors,
                pageviews=pageviews,
                in_progress=by_week[week].in_progress,
                last_year_visitors=last_year.get(week),
                last_year_y=y_visitors(last_year[week]) if week in last_year else None,
            )
        )
    complete = [bar for bar in bars if not bar.in_progress]
    solid = _path([(bar.week_start, bar.center, bar.visitors_y) for bar in complete])
    dashed = ""
    if (
        bars
        and bars[-1].in_progress
        and complete
        and complete[-1].week_start == bars[-1].week_start - weeks.ONE_WEEK
    ):
        dashed = f"M{complete[-1].center} {complete[-1].visitors_y} L{bars[-1].center} {bars[-1].visitors_y}"
    # A label every fourth week, counted back from the newest, so the current week has one.
    x_ticks = [
        Tick(round(offset + slot * (index + 0.5), 1), f"{week:%b} {week.day}")
        for index, week in enumerate(slots)
        if (len(slots) - 1 - index) % 4 == 0
    ]
    return WeeklyChart(
        bars=bars,
        visitors_ticks=_ticks(visitors_top, y_visitors),
        pageviews_ticks=_ticks(pageviews_top, y_pageviews),
        x_ticks=x_ticks,
        visitors_path=solid,
        in_progress_path=dashed,
        last_year_path=_path(year_points),
        first_week=first_week,
        last_week=last_week,
        visitors_target_y=y_visitors(targets["visitors"]) if "visitors" in targets else None,
        pageviews_target_y=y_pageviews(targets["pageviews"]) if "pageviews" in targets else None,
        targets=tuple(targets.items()),
        metrics={week.week_start: week.metrics for week in shown},
    )


def _ticks(top: int, y) -> list[Tick]:
    return [Tick(y(value), f"{value:,}") for value in range(0, top + 1, top // 4)]


def _path(points: list[tuple[dt.date, float, float]]) -> str:
    """SVG path through (week, x, y) points, lifting the pen over weeks that are not stored."""
    parts = []
    previous: dt.date | None = None
    for week, x, y in points:
        command = "L" if previous is not None and week - previous == weeks.ONE_WEEK else "M"
        parts.append(f"{command}{x} {y}")
        previous = week
    return " ".join(parts)


def _nice_ceiling(value: int) -> int:
    """The smallest round number >= value that splits into 4 whole ticks.

    Round: 1, 2, 4, 5, 8 or 10 times a power of ten (else the next multiple of 4).
    """
    if value <= 4:
        return 4
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 4, 5, 8, 10):
        candidate = int(factor * magnitude)
        if candidate >= value and candidate % 4 == 0:
            return candidate
    return -(-value // 4) * 4
