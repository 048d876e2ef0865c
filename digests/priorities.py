"""Suggested priorities: what to fix first, each with a one-line reason built from its numbers,
the owner who answers for it and one next step a conductor can take.

Every system × category that had reports (or SLA breaches) this week is a candidate, scored
severity weight × (reports this week × how fast they rose, capped at 4×, + SLA breaches).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.core.models import Severity
from digests.model import SEVERITY_WEIGHT, Owner, Priority, Theme
from digests.names import Names
from digests.reads import SeriesCount
from digests.text import duration, plural, times
from digests.window import LAST_WEEK, THIS_WEEK

MAX_PRIORITIES = 5
MAX_TREND_BOOST = 4.0


def suggest_priorities(
    series_rows: Sequence[SeriesCount],
    breaches: Mapping[tuple[str, str], int],
    open_cases: Mapping[tuple[str, str], int],
    names: Names,
    *,
    oldest_breach: Mapping[tuple[str, str], datetime] | None = None,
    as_of: datetime | None = None,
    themes: Sequence[Theme] = (),
) -> list[Priority]:
    """What to fix first: each system × category scored by severity weight × (this week's
    reports × how fast they rose, capped at 4×, + SLA breaches), with a one-line reason."""
    this, last = THIS_WEEK, LAST_WEEK
    current: dict[tuple[str, str], int] = defaultdict(int)
    previous: dict[tuple[str, str], int] = defaultdict(int)
    group_cases: dict[tuple[str, str], int] = defaultdict(int)
    severity: dict[tuple[str, str], Severity] = {}
    for row in series_rows:
        group = (row.system_id, row.category_id)
        if row.bucket == this:
            current[group] += row.reports
            group_cases[group] += row.cases
            found = row.severity
            severity[group] = Severity.highest(found, severity.get(group, found))
        elif row.bucket == last:
            previous[group] += row.reports
    candidates = []
    for group in {*current, *(g for g, n in breaches.items() if n)}:
        system_id, category_id = group
        if group not in severity:
            category = names.routing.category(category_id)
            severity[group] = category.severity if category else Severity.medium
        reports, before, breached = (
            current.get(group, 0),
            previous.get(group, 0),
            breaches.get(group, 0),
        )
        boost = min(MAX_TREND_BOOST, max(1.0, reports / max(before, 1)))
        score = SEVERITY_WEIGHT[severity[group]] * (reports * boost + breached)
        candidates.append(
            Priority(
                rank=0,
                system_id=system_id,
                system_name=names.system(system_id),
                category_id=category_id,
                category_label=names.category(category_id),
                severity=severity[group],
                reports=reports,
                previous_reports=before,
                cases=group_cases.get(group, 0),
                open_cases=open_cases.get(group, 0),
                sla_breaches=breached,
                score=round(score, 2),
                reason=reason(reports, before, severity[group], breached, open_cases.get(group, 0)),
            )
        )
    candidates = [
        _actionable(
            p, names, (oldest_breach or {}).get((p.system_id, p.category_id)), as_of, themes
        )
        for p in candidates
    ]
    candidates.sort(
        key=lambda p: (-p.score, -p.reports, -p.severity.rank, p.system_id, p.category_id)
    )
    return [
        p.model_copy(update={"rank": rank})
        for rank, p in enumerate(candidates[:MAX_PRIORITIES], start=1)
    ]


def reason(reports: int, previous: int, severity: Severity, breaches: int, open_cases: int) -> str:
    """ "14 reports, critical, up 3× on last week, 2 SLA breaches, 5 still open"."""
    parts = [plural(reports, "report") if reports else "no new reports", severity.value]
    if reports:
        if previous == 0:
            parts.append("new this week")
        elif reports >= 2 * previous:
            parts.append(f"up {times(reports / previous)} on last week")
        elif reports > previous:
            parts.append(f"up from {previous} last week")
        elif reports == previous:
            parts.append("as many as last week")
        else:
            parts.append(f"down from {previous} last week")
    if breaches:
        parts.append(plural(breaches, "SLA breach", "SLA breaches"))
    if open_cases:
        parts.append(f"{open_cases} still open")
    return ", ".join(parts)


def owner_of(system_id: str, category_id: str, names: Names) -> Owner | None:
    """The person the routing file names for the role this category routes to."""
    category = names.routing.category(category_id)
    if category is None:
        return None
    person = names.routing.owner_of(system_id, category.route_to)
    return Owner(
        person=person,
        name=names.person(person) if person else "nobody",
        role=category.route_to.value,
    )


def theme_behind(priority: Priority, themes: Sequence[Theme]) -> Theme | None:
    """The biggest theme that spans this system and category, if one does."""
    spanning = [
        t
        for t in themes
        if priority.system_id in t.systems and priority.category_id in t.categories
    ]
    return max(spanning, key=lambda t: (t.reports, t.cases), default=None)


def next_step(priority: Priority, owner: Owner | None, breached_for: float | None) -> str:
    """One thing to do, addressed to someone, with the numbers that justify it."""
    facts = []
    if priority.open_cases:
        facts.append(f"{priority.open_cases} open")
    if breached_for is not None:
        facts.append(f"oldest breached {_ago(breached_for)}")
    because = ", ".join(facts) or f"{plural(priority.reports, 'report')}, none open"
    if owner is None or owner.person is None:
        role = owner.role if owner else "an"
        return (
            f"name {'a ' + role if owner else role} owner for {priority.system_name} in "
            f"routing.yaml: {because}"
        )
    who = f"{owner.name} ({owner.role})"
    if priority.open_cases:
        return f"ask {who} for a fix date: {because}"
    return f"check with {who} that the fix holds: {because}"


def _ago(seconds: float) -> str:
    """3 d, 5 h, 20 min: how long ago, in the coarsest unit that fits."""
    text = duration(seconds)
    return (
        text.split()[0]
        .replace("d", " d")
        .replace("h", " h")
        .replace("m", " min")
        .replace("s", " s")
    )


def _actionable(
    priority: Priority,
    names: Names,
    oldest: datetime | None,
    as_of: datetime | None,
    themes: Sequence[Theme],
) -> Priority:
    owner = owner_of(priority.system_id, priority.category_id, names)
    breached_for = (as_of - oldest).total_seconds() if oldest and as_of else None
    theme = theme_behind(priority, themes)
    return priority.model_copy(
        update={
            "owner": owner,
            "oldest_breach_at": oldest,
            "theme": theme.label if theme else None,
            "next_step": next_step(priority, owner, breached_for),
        }
    )
