"""Compute a weekly digest: read the week's grouped rows, then build each section from them.

The database does the counting behind the read-model port (`digests.reads.DigestReads`,
implemented in storage/digest_reads.py): a few statements, each returning a few grouped rows at
most, whatever the number of reports. Python then only sums and ranks those rows, one function
per section (digests/counts.py, digests/casework.py, digests/priorities.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.core.routing_rules import Digest, Routing
from digests import casework, counts
from digests.counts import sum_by
from digests.model import Change, Theme, Totals, Week, WeeklyDigest
from digests.names import Names
from digests.priorities import suggest_priorities
from digests.reads import DigestReads, WeekRows
from digests.surges import surge_entries
from digests.text import beside, plural, quiet_line
from digests.versions import versions
from digests.week import IsoWeek, Zone
from digests.window import Window

log = logging.getLogger(__name__)


class WeekNotStarted(ValueError):
    """A digest of a week that has not begun: there is nothing to count yet."""


class ThemeFinder(Protocol):
    """Finds a week's recurring themes (digests.themes.section.WeekThemes)."""

    async def __call__(
        self, week: IsoWeek, systems: Sequence[str] | None, *, tz: Zone, now: datetime
    ) -> list[Theme]: ...


async def build_digest(
    reads: DigestReads,
    routing: Routing,
    digest: Digest,
    week: IsoWeek,
    now: datetime,
    *,
    themes: Sequence[Theme] = (),
    find_themes: ThemeFinder | None = None,
) -> WeeklyDigest:
    """The digest `digest` for `week` (counted in the digest's time zone), as of `now`, with
    the week's `themes`, or those `find_themes` finds (digests/themes computes them)."""
    window = Window.of(week, digest.schedule.timezone, now)
    if window.not_started:
        starts = window.start.astimezone(window.tz)
        raise WeekNotStarted(
            f"{week} has not started yet (it starts {starts:%a %d %b %Y} in "
            f"{digest.schedule.timezone}): pick this week or an earlier one."
        )
    systems = _system_filter(routing, digest)
    rows = await reads.week(window, systems)
    if find_themes is not None:
        themes = await _themes(find_themes, week, systems, digest, now)
    return assemble(routing, digest, window, rows, themes)


async def _themes(
    find: ThemeFinder, week: IsoWeek, systems: list[str] | None, digest: Digest, now: datetime
) -> list[Theme]:
    # Themes are a section, not the digest: a digest without them beats no digest at all.
    try:
        return await find(week, systems, tz=digest.schedule.timezone, now=now)
    except Exception:
        log.exception("themes for %s failed: the digest goes out without them", week)
        return []


def _system_filter(routing: Routing, digest: Digest) -> list[str] | None:
    """None (no filter) for `systems: all`, which also shows systems no longer in routing."""
    if digest.systems == "all":
        return None
    return [s.id for s in routing.digest_systems(digest)]


def assemble(
    routing: Routing,
    digest: Digest,
    window: Window,
    rows: WeekRows,
    themes: Sequence[Theme] = (),
) -> WeeklyDigest:
    """The digest from the week's grouped rows, section by section."""
    seen = [
        *(r.system_id for r in rows.series),
        *(r.system_id for r in rows.cases),
        *(r.system_id for r in rows.timeline),
    ]
    names = Names(routing, digest, seen)
    points = counts.series(rows.series, window, names)
    by_category = counts.by_category(rows.series, names)
    totals = counts.totals(points, rows.reporters, rows.cases, rows.timeline)
    quiet = counts.is_quiet(totals)
    breaches = sum_by(
        (r for r in rows.timeline if r.kind == "sla_breached"),
        lambda r: (r.system_id, r.category_id),
        lambda r: r.entries,
    )
    return WeeklyDigest(
        digest=digest.name,
        generated_at=window.now,
        demo=rows.demo,
        so_far=window.in_progress,
        week=_week(window, digest),
        systems=names.systems,
        quiet=quiet,
        headline=(
            quiet_line([s.name for s in names.systems], str(window.week))
            if quiet
            else _headline(totals, so_far=window.in_progress)
        ),
        totals=totals,
        by_system=counts.by_system(rows.series, names),
        by_category=by_category,
        by_severity=counts.by_severity(rows.series),
        series=points,
        top_cases=casework.top_cases(rows.top_cases, names),
        movers=counts.movers(by_category, names),
        response_by_system=casework.response_by_system(rows.response, rows.timeline, names),
        response_by_owner=casework.response_by_owner(rows.response, rows.timeline, names),
        backlog=casework.backlog(rows.cases, window, names),
        loop_closure=casework.loop_closure(totals, rows.loop_closure),
        priorities=suggest_priorities(
            rows.series,
            breaches,
            casework.open_by_group(rows.cases),
            names,
            oldest_breach={
                (r.system_id, r.category_id): r.oldest_breach
                for r in rows.cases
                if r.oldest_breach is not None
            },
            as_of=window.as_of,
            themes=themes,
        ),
        themes=list(themes),
        versions=versions(rows.versions, rows.versions_seen_before, rows.volume, window),
        surges=surge_entries(rows.surges),
    )


def _week(window: Window, digest: Digest) -> Week:
    return Week(
        iso=str(window.week),
        timezone=digest.schedule.timezone,
        start_local=window.start.astimezone(window.tz),
        end_local=window.end.astimezone(window.tz),
        start_utc=window.start,
        end_utc=window.end,
        hours=int((window.end - window.start).total_seconds() // 3600),
        label=window.week.label(),
    )


def _headline(totals: Totals, *, so_far: bool) -> str:
    """ "16 reports (up from 4 last week) on 8 cases (up from 3) from 11 people (up from 4);
    6 new, 1 reopened, 4 closed.": each comparison right beside its own number."""

    def counted(value: Change, one: str, many: str | None = None, first: bool = False) -> str:
        was = beside(value, so_far=so_far)
        if first and so_far:
            was = was.replace(" last week", " in all of last week")
        elif first and was.startswith(("up", "down")):
            was += " last week"
        return f"{plural(value.current, one, many)} ({was})"

    if totals.reports.previous == totals.cases.previous == totals.reporters.previous == 0:
        line = (
            f"{plural(totals.reports.current, 'report')} on {plural(totals.cases.current, 'case')}"
            f" from {plural(totals.reporters.current, 'person', 'people')} (none last week); "
            f"{totals.new_cases} new, {totals.reopened_cases} reopened, "
            f"{totals.closed_cases} closed."
        )
        return f"So far this week: {line}" if so_far else line
    line = (
        f"{counted(totals.reports, 'report', first=True)} "
        f"on {counted(totals.cases, 'case')} "
        f"from {counted(totals.reporters, 'person', 'people')}; "
        f"{totals.new_cases} new, {totals.reopened_cases} reopened, {totals.closed_cases} closed."
    )
    return f"So far this week: {line}" if so_far else line


__all__ = ["ThemeFinder", "WeekNotStarted", "assemble", "build_digest"]
