"""When each digest is due: the schedule's day and time in its own time zone, DST-correct."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.core.routing_rules import DigestSchedule


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def occurrence(schedule: DigestSchedule, monday: date) -> datetime:
    """The scheduled instant in the week starting `monday` (local), as aware UTC.

    A wall time that a DST jump skips or repeats resolves as zoneinfo defines (fold=0).
    """
    local = datetime.combine(
        monday + timedelta(days=schedule.weekday), schedule.local_time, tzinfo=schedule.zone
    )
    return local.astimezone(UTC)


def latest_due(schedule: DigestSchedule, now: datetime) -> tuple[str, datetime]:
    """The most recent scheduled time at or before `now`, and the ISO week it reports on.

    The digest posted in week W covers the full week before it, W-1.
    """
    local_today = now.astimezone(schedule.zone).date()
    monday = local_today - timedelta(days=local_today.weekday())
    due = occurrence(schedule, monday)
    if due > now:
        monday -= timedelta(days=7)
        due = occurrence(schedule, monday)
    return iso_week_label(monday - timedelta(days=7)), due
