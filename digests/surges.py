"""The digest's surges: one entry per surge that began in the week (many new cases on one
system at once, announced as one card), and the line each renderer shows for it."""

from __future__ import annotations

from collections.abc import Sequence

from digests.model import SurgeEntry, WeeklyDigest
from digests.reads import SurgeCount
from digests.text import plural


def surge_entries(rows: Sequence[SurgeCount]) -> list[SurgeEntry]:
    return [
        SurgeEntry(
            system_id=r.system_id,
            first_seen=r.first_seen_at,
            ended=r.ended_at,
            cases=r.cases,
            open=r.open,
        )
        for r in rows
    ]


def surge_line(surge: SurgeEntry, digest: WeeklyDigest) -> str:
    """ "Code Helper: 200 cases from Tue 14:02 UTC until Tue 15:10 UTC, 12 still open." """
    return f"{digest.system_name(surge.system_id)}: {surge_detail(surge)}"


def surge_detail(surge: SurgeEntry) -> str:
    """The line without its system name, for renderers that shorten names to fit their
    surface's size limit: "200 cases from Tue 14:02 UTC until Tue 15:10 UTC, 12 still open." """
    when = f"from {surge.first_seen:%a %H:%M} UTC"
    until = f" until {surge.ended:%a %H:%M} UTC" if surge.ended else ", still going"
    return f"{plural(surge.cases, 'case')} {when}{until}, {surge.open} still open."
