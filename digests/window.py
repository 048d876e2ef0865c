"""The instants one digest counts between: its week and the seven before it, in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from digests.week import IsoWeek, zone

WEEKS_IN_SERIES = 8
THIS_WEEK = WEEKS_IN_SERIES - 1
"""The digest's own week, as a bucket of the series (buckets count 0 … 7, oldest first)."""
LAST_WEEK = WEEKS_IN_SERIES - 2


@dataclass(frozen=True)
class Window:
    """The instants a digest counts between, all UTC."""

    week: IsoWeek
    tz: tzinfo
    bounds: tuple[datetime, ...]
    """WEEKS_IN_SERIES + 1 instants: bounds[i] starts week `week - 7 + i`; the last ends `week`."""
    now: datetime

    @classmethod
    def of(cls, week: IsoWeek, tz: tzinfo | str, now: datetime) -> Window:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"naive datetime {now!r}: pass an aware `now`")
        local = zone(tz)
        first = week.shift(-(WEEKS_IN_SERIES - 1))
        bounds = tuple(first.shift(i).start_utc(local) for i in range(WEEKS_IN_SERIES + 1))
        return cls(week=week, tz=local, bounds=bounds, now=now.astimezone(UTC))

    @property
    def start(self) -> datetime:
        return self.bounds[-2]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    @property
    def previous_start(self) -> datetime:
        return self.bounds[-3]

    @property
    def as_of(self) -> datetime:
        """When the backlog is measured: the week's end, or now for the week in progress."""
        return min(self.end, self.now)

    @property
    def in_progress(self) -> bool:
        """The week has started but not ended: its numbers are "so far"."""
        return self.start <= self.now < self.end

    @property
    def not_started(self) -> bool:
        return self.now < self.start
