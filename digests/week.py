"""ISO weeks in a digest's time zone: Monday 00:00 local to the next Monday 00:00 local.

A week's bounds are computed in local time and only then converted to UTC, so a week that
contains a daylight-saving change lasts 167 or 169 hours, as the people reading it lived it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

_PATTERN = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)

Zone = tzinfo | str


def zone(tz: Zone) -> tzinfo:
    """A tzinfo from an IANA name (or a tzinfo, returned as is)."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


@dataclass(frozen=True, order=True)
class IsoWeek:
    """One ISO 8601 week: `IsoWeek(2026, 7)` is "2026-W07"."""

    year: int
    week: int

    def __post_init__(self) -> None:
        try:
            date.fromisocalendar(self.year, self.week, 1)
        except ValueError:
            raise ValueError(f"{self.year} has no ISO week {self.week}") from None

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """ "2026-W07" (or "2026W07", "2026-w7") → IsoWeek(2026, 7); ValueError otherwise."""
        match = _PATTERN.fullmatch(text.strip())
        if not match:
            raise ValueError(f"'{text}' is not an ISO week: write it like 2026-W07")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of_date(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def containing(cls, moment: datetime, tz: Zone) -> IsoWeek:
        """The week `moment` falls in, on the local calendar of `tz`."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: pass an aware one")
        return cls.of_date(moment.astimezone(zone(tz)).date())

    @classmethod
    def last_full_week(cls, now: datetime, tz: Zone) -> IsoWeek:
        """The most recent week that has ended by `now` in `tz` (the one before this week)."""
        return cls.containing(now, tz).previous()

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def sunday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 7)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of_date(self.monday() + timedelta(weeks=weeks))

    def previous(self) -> IsoWeek:
        return self.shift(-1)

    def next(self) -> IsoWeek:
        return self.shift(1)

    def start_local(self, tz: Zone) -> datetime:
        """Monday 00:00 in `tz` (the first instant of that day, should midnight not exist)."""
        local = zone(tz)
        naive = datetime.combine(self.monday(), time(0))
        # Round-trip through UTC so a midnight skipped by a DST gap lands on the gap's end.
        return naive.replace(tzinfo=local).astimezone(UTC).astimezone(local)

    def end_local(self, tz: Zone) -> datetime:
        """The next Monday 00:00 in `tz`: the week is [start, end)."""
        return self.next().start_local(tz)

    def start_utc(self, tz: Zone) -> datetime:
        return self.start_local(tz).astimezone(UTC)

    def end_utc(self, tz: Zone) -> datetime:
        return self.end_local(tz).astimezone(UTC)

    def hours(self, tz: Zone) -> int:
        """168, or 167/169 in a week with a daylight-saving change."""
        return int((self.end_utc(tz) - self.start_utc(tz)).total_seconds() // 3600)

    def label(self) -> str:
        """ "9–15 Feb 2026": the week's days, for people."""
        first, last = self.monday(), self.sunday()
        if first.year != last.year:
            return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
        if first.month != last.month:
            return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
        return f"{first.day}–{last.day} {last:%b %Y}"
