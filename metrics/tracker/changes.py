"""What a sync changed in one week: the record kept on `SyncRun.changes`."""

import dataclasses
import datetime as dt
from typing import Any


@dataclasses.dataclass(frozen=True)
class WeekChange:
    week_start: dt.date
    visitors_before: int | None  # None: the week was created by this run
    visitors_after: int
    pageviews_before: int | None
    pageviews_after: int
    # (key, before, after) of each user-defined metric whose number moved (no row held 0).
    metrics: tuple[tuple[str, float, float], ...] = ()

    @property
    def created(self) -> bool:
        return self.visitors_before is None

    @property
    def visitors_delta(self) -> int:
        return self.visitors_after - (self.visitors_before or 0)

    @property
    def pageviews_delta(self) -> int:
        return self.pageviews_after - (self.pageviews_before or 0)

    @property
    def changed(self) -> bool:
        """A new week, or a stored number that moved. Not a week PostHog only confirmed (its
        count caught up with what the webhook had already added): nothing a user sees moved."""
        return self.created or bool(self.visitors_delta or self.pageviews_delta or self.metrics)

    @property
    def rank(self) -> tuple[bool, int, int]:
        """Sort key, most telling first: real moves by size; a new week of zeros last."""
        empty_new = self.created and not (self.visitors_after or self.pageviews_after)
        return (empty_new, -abs(self.visitors_delta), -abs(self.pageviews_delta))

    def as_json(self) -> dict[str, Any]:
        """The stored form (`SyncRun.changes` items), also what the JSON endpoints show."""
        body: dict[str, Any] = {
            "week": self.week_start.isoformat(),
            "created": self.created,
            "visitors": [self.visitors_before, self.visitors_after],
            "pageviews": [self.pageviews_before, self.pageviews_after],
        }
        if self.metrics:  # only the metrics that moved, by key: {"signups": [3, 5]}
            body["metrics"] = {key: [before, after] for key, before, after in self.metrics}
        return body

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> "WeekChange":
        return cls(
            week_start=dt.date.fromisoformat(item["week"]),
            visitors_before=item["visitors"][0],
            visitors_after=item["visitors"][1],
            pageviews_before=item["pageviews"][0],
            pageviews_after=item["pageviews"][1],
            metrics=tuple((key, pair[0], pair[1]) for key, pair in item.get("metrics", {}).items()),
        )
