"""The weekly visitors/pageviews chart above the WeeklyMetric list, as plain geometry.

Drawn on the server as SVG (template `admin/metrics/weeklymetric/chart.html`): no CDN and
no JavaScript library, so it works in deployments without internet access. This module
only computes coordinates; the template draws them.
"""

import dataclasses
import datetime as dt
import math

from metrics import weeks
from metrics.models import WeeklyMetric

WEEKS_SHOWN = 26
WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44  # margins around the plot area


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


@dataclasses.dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclasses.dataclass(frozen=True)
class WeeklyChart:
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    visitors_path: str  # complete weeks, solid
    in_progress_path: str  # from the last complete week to the current one, dashed
    first_week: dt.date
    last_week: dt.date
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def current(self) -> Bar | None:
        return self.bars[-1] if self.bars and self.bars[-1].in_progress else None


def weekly_chart(*, weeks_shown: int = WEEKS_SHOWN) -> WeeklyChart:
    """The chart of the last `weeks_shown` weeks through the current one (one query)."""
    last = weeks.current_week_start()
    first = last - weeks.ONE_WEEK * (weeks_shown - 1)
    rows = WeeklyMetric.objects.filter(week_start__gte=first, week_start__lte=last).values_list(
        "week_start", "visitors", "pageviews"
    )
    return build_chart({week: (v, p) for week, v, p in rows}, first_week=first, last_week=last)


def build_chart(
    numbers: dict[dt.date, tuple[int, int]], *, first_week: dt.date, last_week: dt.date
) -> WeeklyChart:
    """Lay out `numbers` (week → (visitors, pageviews)); weeks not stored are left blank."""
    slots = list(weeks.week_range(first_week, last_week))
    plot_bottom, plot_height = HEIGHT - BOTTOM, HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / len(slots)
    top_value = _nice_ceiling(max((max(v, p) for v, p in numbers.values()), default=0))

    def y(value: int) -> float:
        return round(plot_bottom - plot_height * value / top_value, 1)

    bars = []
    for index, week in enumerate(slots):
        if week not in numbers:
            continue
        visitors, pageviews = numbers[week]
        center = LEFT + slot * (index + 0.5)
        bars.append(
            Bar(
                week_start=week,
                x=round(center - slot * 0.35, 1),
                center=round(center, 1),
                width=round(slot * 0.7, 1),
                pageviews_y=y(pageviews),
                pageviews_height=round(plot_bottom - y(pageviews), 1),
                visitors_y=y(visitors),
                visitors=visitors,
                pageviews=pageviews,
                in_progress=week == weeks.current_week_start(),
            )
        )
    complete = [bar for bar in bars if not bar.in_progress]
    solid = _path(complete, slots)
    dashed = ""
    if (
        bars
        and bars[-1].in_progress
        and complete
        and complete[-1].week_start == bars[-1].week_start - weeks.ONE_WEEK
    ):
        dashed = f"M{complete[-1].center} {complete[-1].visitors_y} L{bars[-1].center} {bars[-1].visitors_y}"
    step = top_value // 4
    y_ticks = [Tick(y(value), f"{value:,}") for value in range(0, top_value + 1, step)]
    # A label every fourth week, counted back from the newest, so the current week has one.
    x_ticks = [
        Tick(round(LEFT + slot * (index + 0.5), 1), f"{week:%b} {week.day}")
        for index, week in enumerate(slots)
        if (len(slots) - 1 - index) % 4 == 0
    ]
    return WeeklyChart(
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        visitors_path=solid,
        in_progress_path=dashed,
        first_week=first_week,
        last_week=last_week,
    )


def _path(bars: list[Bar], slots: list[dt.date]) -> str:
    """SVG path through the visitors points, lifting the pen over weeks that are not stored."""
    parts = []
    previous: dt.date | None = None
    for bar in bars:
        command = "L" if previous is not None and bar.week_start - previous == weeks.ONE_WEEK else "M"
        parts.append(f"{command}{bar.center} {bar.visitors_y}")
        previous = bar.week_start
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
