"""ISO weeks in the digest's time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.models import Role, Severity
from digests.history import CaseHistory, reported
from digests.week import IsoWeek
from tests.test_digest import digest_of, seed

LONDON = ZoneInfo("Europe/London")


def test_parse_and_print() -> None:
    assert IsoWeek.parse("2026-W07") == IsoWeek(2026, 7)
    assert IsoWeek.parse(" 2026w7 ") == IsoWeek(2026, 7)
    assert str(IsoWeek(2026, 7)) == "2026-W07"
    assert IsoWeek.parse("2026-W53") == IsoWeek(2026, 53)  # 2026 starts on a Thursday
    for bad in ("2026-07", "W07", "2026-W54", "2025-W53", "2026-W00", "next week"):
        with pytest.raises(ValueError):
            IsoWeek.parse(bad)


def test_neighbours_across_years() -> None:
    assert IsoWeek(2026, 1).previous() == IsoWeek(2025, 52)
    assert IsoWeek(2026, 53).next() == IsoWeek(2027, 1)
    assert IsoWeek(2026, 7).shift(-7) == IsoWeek(2025, 52)
    assert IsoWeek(2026, 1).monday().isoformat() == "2025-12-29"
    assert IsoWeek(2026, 1).label() == "29 Dec 2025 – 4 Jan 2026"
    assert IsoWeek(2026, 5).label() == "26 Jan – 1 Feb 2026"


def test_last_full_week_is_counted_on_the_local_calendar() -> None:
    # Monday 00:30 in London is still Sunday 23:30 UTC in summer: London has started W14.
    monday_early = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
    assert IsoWeek.last_full_week(monday_early, "Europe/London") == IsoWeek(2026, 13)
    assert IsoWeek.last_full_week(monday_early, "UTC") == IsoWeek(2026, 12)
    assert IsoWeek.containing(monday_early, LONDON) == IsoWeek(2026, 14)
    with pytest.raises(ValueError):
        IsoWeek.containing(datetime(2026, 3, 30), LONDON)


def test_a_week_with_the_spring_change_lasts_167_hours() -> None:
    week = IsoWeek(2026, 13)  # Mon 23 – Sun 29 March 2026; clocks go forward on the 29th
    assert week.start_local(LONDON).isoformat() == "2026-03-23T00:00:00+00:00"
    assert week.end_local(LONDON).isoformat() == "2026-03-30T00:00:00+01:00"
    assert week.start_utc(LONDON) == datetime(2026, 3, 23, 0, 0, tzinfo=UTC)
    assert week.end_utc(LONDON) == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)
    assert week.hours(LONDON) == 167
    assert IsoWeek(2026, 43).hours("Europe/London") == 169  # clocks go back on 25 October
    assert IsoWeek(2026, 12).hours("Europe/London") == 168


def test_a_change_at_midnight_elsewhere() -> None:
    # Santiago's clocks jump from Saturday 24:00 to Sunday 01:00 (7 September 2025).
    santiago = "America/Santiago"
    assert IsoWeek(2025, 36).hours(santiago) == 167
    assert IsoWeek(2025, 37).start_local(santiago).isoformat() == "2025-09-08T00:00:00-03:00"


async def test_reports_either_side_of_a_dst_sunday_midnight(database_url: str) -> None:
    sunday_late = datetime(2026, 3, 29, 23, 30, tzinfo=LONDON)  # 22:30 UTC, week 13
    monday_early = datetime(2026, 3, 30, 0, 30, tzinfo=LONDON)  # 23:30 UTC Sunday, week 14
    assert monday_early.astimezone(UTC).isoformat() == "2026-03-29T23:30:00+00:00"

    def flagged(number: int, at: datetime) -> CaseHistory:
        return CaseHistory(
            output_key=f"dst:{number}",
            system_id="support-assistant",
            category_id="hallucination",
            severity=Severity.high,
            owner="alice",
            owner_role=Role.validation,
            events=[reported(at.astimezone(UTC), f"u{number}")],
        )

    await seed(database_url, [flagged(1, sunday_late), flagged(2, monday_early)])
    now = datetime(2026, 4, 8, 9, 0, tzinfo=UTC)

    w13 = await digest_of(database_url, IsoWeek(2026, 13), now)
    assert w13.week.hours == 167
    assert w13.week.end_utc == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)
    assert (w13.totals.reports.current, w13.totals.new_cases) == (1, 1)
    assert [c.case_id for c in w13.top_cases] == [1]

    w14 = await digest_of(database_url, IsoWeek(2026, 14), now)
    assert w14.week.start_local.isoformat() == "2026-03-30T00:00:00+01:00"
    assert (w14.totals.reports.current, w14.totals.reports.previous) == (1, 1)
    assert [c.case_id for c in w14.top_cases] == [2]
    assert w14.series[-2].start_utc == datetime(2026, 3, 23, 0, 0, tzinfo=UTC)
