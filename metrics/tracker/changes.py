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

    @property
    def created(self) -> bool:
        return self.visitors_before is None

    @property
    def visitors_delta(self) -> int:
        return self.visitors_after - (self.visitors_before or 0)

    def as_json(self) -> dict[str, Any]:
        """The stored form (`SyncRun.changes` items), also what the JSON endpoints show."""
        return {
            "week": self.week_start.isoformat(),
            "created": self.created,
            "visitors": [self.visitors_before, self.visitors_after],
            "pageviews": [self.pageviews_before, self.pageviews_after],
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> "WeekChange":
        return cls(
            week_start=dt.date.fromisoformat(item["week"]),
            visitors_before=item["visitors"][0],
            visitors_after=item["visitors"][1],
            pageviews_before=item["pageviews"][0],
            pageviews_after=item["pageviews"][1],
        )
