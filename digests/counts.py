"""The digest's counting sections: the 8-week series, breakdowns, totals and movers."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

from bot.core.models import Severity
from digests.model import Breakdown, Change, Mover, Totals, WeekPoint
from digests.names import Names
from digests.reads import CaseFlow, SeriesCount, TimelineCount
from digests.window import LAST_WEEK, THIS_WEEK, WEEKS_IN_SERIES, Window

MOVERS = 3
SEVERITY_ORDER = (Severity.critical, Severity.high, Severity.medium, Severity.low)

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def sum_by(rows: Iterable[R], key: Callable[[R], K], value: Callable[[R], int]) -> dict[K, int]:
    sums: dict[K, int] = defaultdict(int)
    for row in rows:
        sums[key(row)] += value(row)
    return sums


def series(rows: Sequence[SeriesCount], window: Window, names: Names) -> list[WeekPoint]:
    """The eight weeks, oldest first, with each system's reports where it had any."""
    reports = sum_by(rows, lambda r: (r.bucket, r.system_id), lambda r: r.reports)
    cases = sum_by(rows, lambda r: (r.bucket, r.system_id), lambda r: r.cases)
    active = [
        s.id
        for s in names.systems
        if any(reports.get((b, s.id), 0) for b in range(WEEKS_IN_SERIES))
    ]
    return [
        WeekPoint(
            week=str(window.week.shift(bucket - THIS_WEEK)),
            start_utc=window.bounds[bucket],
            reports=sum(n for (b, _), n in reports.items() if b == bucket),
            cases=sum(n for (b, _), n in cases.items() if b == bucket),
            reports_by_system={s: reports.get((bucket, s), 0) for s in active},
        )
        for bucket in range(WEEKS_IN_SERIES)
    ]


def _breakdown(
    rows: Sequence[SeriesCount],
    key: Callable[[SeriesCount], K],
    keys: Sequence[K],
    label: Callable[[K], str],
) -> list[Breakdown]:
    reports = sum_by(rows, lambda r: (r.bucket, key(r)), lambda r: r.reports)
    cases = sum_by(rows, lambda r: (r.bucket, key(r)), lambda r: r.cases)
    return [
        Breakdown(
            key=str(k),
            label=label(k),
            reports=Change(
                current=reports.get((THIS_WEEK, k), 0), previous=reports.get((LAST_WEEK, k), 0)
            ),
            cases=Change(
                current=cases.get((THIS_WEEK, k), 0), previous=cases.get((LAST_WEEK, k), 0)
            ),
        )
        for k in keys
    ]


def by_system(rows: Sequence[SeriesCount], names: Names) -> list[Breakdown]:
    return sorted(
        _breakdown(rows, lambda r: r.system_id, [s.id for s in names.systems], names.system),
        key=lambda b: (-b.reports.current, -b.reports.previous, b.label),
    )


def by_category(rows: Sequence[SeriesCount], names: Names) -> list[Breakdown]:
    """Categories with reports this week or last, most reported first."""
    ids = names.category_ids(r.category_id for r in rows)
    found = _breakdown(rows, lambda r: r.category_id, ids, names.category)
    return sorted(
        (b for b in found if b.reports.current or b.reports.previous),
        key=lambda b: (-b.reports.current, -b.reports.previous, ids.index(b.key)),
    )


def by_severity(rows: Sequence[SeriesCount]) -> list[Breakdown]:
    return _breakdown(rows, lambda r: r.severity, SEVERITY_ORDER, lambda k: k.value)


def totals(
    points: Sequence[WeekPoint],
    reporters: Mapping[int, int],
    cases: Sequence[CaseFlow],
    timeline: Sequence[TimelineCount],
) -> Totals:
    entries = sum_by(timeline, lambda r: r.kind, lambda r: r.entries)
    entry_cases = sum_by(timeline, lambda r: r.kind, lambda r: r.cases)
    this, last = points[THIS_WEEK], points[LAST_WEEK]
    return Totals(
        reports=Change(current=this.reports, previous=last.reports),
        cases=Change(current=this.cases, previous=last.cases),
        reporters=Change(current=reporters.get(1, 0), previous=reporters.get(0, 0)),
        new_cases=sum(r.new for r in cases),
        reopened_cases=entry_cases.get("reopened", 0),
        acknowledged_cases=sum(r.acknowledged for r in cases),
        closed_cases=sum(r.closed for r in cases),
        sla_breaches=entries.get("sla_breached", 0),
        activity=sum(entries.values()),
    )


def is_quiet(t: Totals) -> bool:
    return (
        t.reports.current == 0
        and t.activity == 0
        and t.new_cases == t.acknowledged_cases == t.closed_cases == 0
    )


def movers(categories: Sequence[Breakdown], names: Names) -> list[Mover]:
    """The categories that moved most: biggest absolute change, then biggest relative one."""
    order = names.category_ids(b.key for b in categories)
    moved = [
        Mover(
            category_id=b.key,
            label=b.label,
            current=b.reports.current,
            previous=b.reports.previous,
            delta=b.reports.delta,
            ratio=b.reports.ratio,
        )
        for b in categories
        if b.reports.delta
    ]
    return sorted(
        moved,
        key=lambda m: (
            -abs(m.delta),
            -(abs(m.delta) / m.previous if m.previous else math.inf),
            order.index(m.category_id),
        ),
    )[:MOVERS]
