"""Small wording helpers shared by the digest and its renderers: counts, changes, durations."""

from __future__ import annotations

from collections.abc import Sequence

from digests.model import Change


def plural(count: int, one: str, many: str | None = None) -> str:
    """`plural(1, "report")` → "1 report"; `plural(3, "report")` → "3 reports"."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def times(ratio: float) -> str:
    """3.0 → "3×", 2.46 → "2.5×"."""
    rounded = round(ratio, 1)
    return f"{rounded:g}×"


def percent(part: float | None) -> str:
    """0.857 → "86%"; None → "—"."""
    return "—" if part is None else f"{round(part * 100):d}%"


def signed(number: int) -> str:
    """+5, −3 (a real minus sign), 0."""
    return f"+{number}" if number > 0 else f"−{-number}" if number < 0 else "0"


def relative(current: int, previous: int) -> str:
    """How far a count moved, for people: "new", "3×", "+40%", "−100%"."""
    if previous == 0:
        return "new" if current else "no change"
    if current >= 2 * previous:
        return times(current / previous)
    return (
        f"{'+' if current >= previous else '−'}{round(abs(current - previous) / previous * 100)}%"
    )


def change(value: Change) -> str:
    """How a count moved: "+12 (+40%)", "−3 (−20%)", "no change", "new" (nothing before)."""
    if value.delta == 0:
        return "no change"
    if value.previous == 0:
        return "new"
    sign = "+" if value.delta > 0 else "−"
    relative = abs(value.delta) / value.previous
    return f"{sign}{abs(value.delta)} ({sign}{round(relative * 100):d}%)"


def trend(value: Change) -> str:
    """ "up from 4 last week", "down from 9 last week", "as many as last week", "none last week"."""
    if value.previous == 0:
        return "none last week"
    if value.delta == 0:
        return "as many as last week"
    return f"{'up' if value.delta > 0 else 'down'} from {value.previous} last week"


def beside(value: Change, *, so_far: bool = False) -> str:
    """What a count was last week, to stand right beside it: "up from 4", "down from 9",
    "as many as last week", "none last week"; for a week still running, only last week's
    count ("4 last week"): a part of a week is not up or down on a whole one."""
    if so_far:
        return f"{value.previous} last week"
    if value.previous == 0:
        return "none last week"
    if value.delta == 0:
        return "as many as last week"
    return f"{'up' if value.delta > 0 else 'down'} from {value.previous}"


def arrow(value: Change) -> str:
    """▲, ▼ or · for a change, for tight tables."""
    return "▲" if value.delta > 0 else "▼" if value.delta < 0 else "·"


def duration(seconds: float | None) -> str:
    """5400 → "1h 30m", 93784 → "1d 2h", 45 → "45s"; None → "—"."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def join_names(names: Sequence[str], limit: int = 3) -> str:
    """["A"] → "A"; ["A", "B", "C"] → "A, B and C"; more than `limit` → "5 systems"."""
    if not names:
        return "no systems"
    if len(names) > limit:
        return f"{len(names)} systems"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def quiet_line(system_names: Sequence[str], week: str) -> str:
    return f"Quiet week: no reports on {join_names(system_names)} in {week}."
