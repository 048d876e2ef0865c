"""Plain-text lines for the digest's action sections, shared by every renderer (each escapes
them for its own surface): the backlog, priorities' next steps, themes and versions."""

from __future__ import annotations

from digests.model import BacklogRow, Priority, Theme, VersionRow, WeeklyDigest
from digests.text import join_names, plural, trend


def backlog_label(digest: WeeklyDigest) -> str:
    return "Open now" if digest.so_far else "Open at week end"


def backlog_line(row: BacklogRow) -> str:
    """ "14 open: 2 under a day · 6 1–7 days · 6 over a week"."""
    return (
        f"{row.total} open: {row.under_1d} under a day · {row.from_1d_to_7d} 1–7 days · "
        f"{row.over_7d} over a week"
    )


def next_step_line(priority: Priority) -> str:
    """ "→ ask Alice (validation) for a fix date: 9 open, oldest breached 3 d · theme: refund"."""
    line = f"→ {priority.next_step}" if priority.next_step else ""
    if priority.theme:
        line += f"{' · ' if line else ''}theme: {priority.theme}"
    return line


def theme_line(theme: Theme, digest: WeeklyDigest) -> str:
    """ "7 reports on 4 cases (up from 2 last week) · Support Assistant, Code Helper · #12 #15"."""
    systems = join_names([digest.system_name(s) for s in theme.systems])
    cases = " ".join(f"#{n}" for n in theme.case_numbers)
    return (
        f"{plural(theme.reports, 'report')} on {plural(theme.cases, 'case')} "
        f"({trend(theme.change)}) · {systems}" + (f" · {cases}" if cases else "")
    )


def version_name(row: VersionRow) -> str:
    """ "prompt v8 · gpt-4o"."""
    parts = []
    if row.prompt_version:
        parts.append(f"prompt {row.prompt_version}")
    if row.model:
        parts.append(row.model)
    return " · ".join(parts) or "unversioned"


def version_rate(row: VersionRow) -> str:
    """ "3.2 a day" or "1.4 per 1,000 outputs" (two significant digits: a rate, not a count)."""
    if row.rate_per_1k is not None:
        return f"{_rate(row.rate_per_1k)} per 1,000 outputs"
    return f"{_rate(row.rate)} a day"


def _rate(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.2g}"


def version_line(row: VersionRow, digest: WeeklyDigest) -> str:
    """ "Support Assistant prompt v8 · gpt-4o: 37 this week (none last week), 6.6 a day"."""
    return (
        f"{digest.system_name(row.system_id)} {version_name(row)}: {row.reports} this week "
        f"({row.previous} last week), {version_rate(row)}"
    )
