"""Compute a weekly digest with a handful of GROUP BY queries.

The database does the counting: seven statements (`digests.queries.DigestQueries`), each
returning a few grouped rows at most, whatever the number of reports. Python then only sums and
ranks those rows (`assemble`). The bench (bench/digest) times the same statements executed bare
beside `build_digest`.

Percentiles: PostgreSQL's percentile_cont in SQL; on SQLite, `percentile` below over the few
per-case durations of the week (see digests/queries.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import Severity
from bot.core.routing_rules import Digest, Routing
from digests.model import (
    Backlog,
    BacklogRow,
    Breakdown,
    Change,
    LoopClosure,
    Mover,
    Response,
    SystemRef,
    TopCase,
    Totals,
    Week,
    WeeklyDigest,
    WeekPoint,
)
from digests.priorities import suggest_priorities
from digests.queries import (
    WEEKS_IN_SERIES,
    DigestQueries,
    QueryResults,
    Window,
    run_queries,
)
from digests.text import plural, quiet_line, trend
from digests.week import IsoWeek

MOVERS = 3
SEVERITY_ORDER = (Severity.critical, Severity.high, Severity.medium, Severity.low)


async def build_digest(
    engine: AsyncEngine, routing: Routing, digest: Digest, week: IsoWeek, now: datetime
) -> WeeklyDigest:
    """The digest `digest` for `week` (counted in the digest's time zone), as of `now`."""
    window = Window.of(week, digest.schedule.timezone, now)
    queries = DigestQueries(engine.dialect.name, window, _system_filter(routing, digest))
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # One snapshot for every statement, so the numbers agree with each other.
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        results = await run_queries(connection, queries)
    return assemble(routing, digest, window, results)


def _system_filter(routing: Routing, digest: Digest) -> list[str] | None:
    """None (no filter) for `systems: all`, which also shows systems no longer in routing."""
    if digest.systems == "all":
        return None
    return [s.id for s in routing.digest_systems(digest)]


# --- assembling the grouped rows -----------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class _Durations:
    acknowledged: int = 0
    ack_median: float | None = None
    ack_p90: float | None = None
    resolved: int = 0
    close_median: float | None = None
    close_p90: float | None = None


def _response_stats(
    dialect_rows: Sequence[Any], window: Window
) -> tuple[dict[str, _Durations], dict[str, _Durations]]:
    """Response durations per system and per owner ('' = nobody), from either dialect's rows."""
    by_system: dict[str, _Durations] = {}
    by_owner: dict[str, _Durations] = {}
    if dialect_rows and hasattr(dialect_rows[0], "by_owner"):
        for row in dialect_rows:
            stats = _Durations(
                row.acknowledged,
                row.ack_median,
                row.ack_p90,
                row.resolved,
                row.close_median,
                row.close_p90,
            )
            if row.by_owner:
                by_owner[row.owner or ""] = stats
            else:
                by_system[row.system_id] = stats
        return by_system, by_owner
    ack: dict[tuple[str, str], list[float]] = defaultdict(list)
    close: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in dialect_rows:
        keys = (("system", row.system_id), ("owner", row.owner or ""))
        if row.acknowledged_at is not None and window.start <= row.acknowledged_at < window.end:
            for key in keys:
                ack[key].append((row.acknowledged_at - row.opened_at).total_seconds())
        if row.closed_at is not None and window.start <= row.closed_at < window.end:
            for key in keys:
                close[key].append((row.closed_at - row.opened_at).total_seconds())
    for key in {*ack, *close}:
        target = by_system if key[0] == "system" else by_owner
        target[key[1]] = _Durations(
            len(ack[key]),
            percentile(ack[key], 0.5),
            percentile(ack[key], 0.9),
            len(close[key]),
            percentile(close[key], 0.5),
            percentile(close[key], 0.9),
        )
    return by_system, by_owner


def _sum_by(rows: Iterable[Any], key: Any, value: str) -> dict[Any, int]:
    sums: dict[Any, int] = defaultdict(int)
    for row in rows:
        sums[key(row)] += int(getattr(row, value))
    return sums


def assemble(
    routing: Routing, digest: Digest, window: Window, results: QueryResults
) -> WeeklyDigest:
    """The digest from the statements' rows (grouped rows only: never one row per report)."""
    this, last = WEEKS_IN_SERIES - 1, WEEKS_IN_SERIES - 2
    series_rows = results["series"]
    case_rows = results["cases"]
    timeline_rows = results["timeline"]

    declared = routing.digest_systems(digest)
    systems = [SystemRef(id=s.id, name=s.name) for s in declared]
    if digest.systems == "all":
        seen = {r.system_id for r in (*series_rows, *case_rows, *timeline_rows)}
        known = {s.id for s in systems}
        systems += [SystemRef(id=sid, name=sid) for sid in sorted(seen - known)]
    names = {s.id: s.name for s in systems}

    def category_label(category_id: str) -> str:
        category = routing.category(category_id)
        return category.label if category else category_id

    def person_name(person_id: str | None) -> str:
        return routing.name_of(person_id, "unassigned")

    # -- reports and cases: the series and this week's breakdowns --
    reports = _sum_by(series_rows, lambda r: (r.bucket, r.system_id), "reports")
    cases = _sum_by(series_rows, lambda r: (r.bucket, r.system_id), "cases")
    points = []
    for bucket in range(WEEKS_IN_SERIES):
        points.append(
            WeekPoint(
                week=str(window.week.shift(bucket - this)),
                start_utc=window.bounds[bucket],
                reports=sum(n for (b, _), n in reports.items() if b == bucket),
                cases=sum(n for (b, _), n in cases.items() if b == bucket),
                reports_by_system={
                    s.id: reports.get((bucket, s.id), 0)
                    for s in systems
                    if any(reports.get((b, s.id), 0) for b in range(WEEKS_IN_SERIES))
                },
            )
        )

    def breakdown(key: Any, keys: Sequence[Any], label: Any) -> list[Breakdown]:
        week_reports = _sum_by(series_rows, lambda r: (r.bucket, key(r)), "reports")
        week_cases = _sum_by(series_rows, lambda r: (r.bucket, key(r)), "cases")
        rows = [
            Breakdown(
                key=str(k),
                label=label(k),
                reports=Change(
                    current=week_reports.get((this, k), 0), previous=week_reports.get((last, k), 0)
                ),
                cases=Change(
                    current=week_cases.get((this, k), 0), previous=week_cases.get((last, k), 0)
                ),
            )
            for k in keys
        ]
        return rows

    by_system = sorted(
        breakdown(lambda r: r.system_id, [s.id for s in systems], lambda k: names[k]),
        key=lambda b: (-b.reports.current, -b.reports.previous, b.label),
    )
    category_ids = list(
        dict.fromkeys(
            [c.id for c in routing.categories]
            + sorted({r.category_id for r in series_rows} - {c.id for c in routing.categories})
        )
    )
    by_category = sorted(
        (
            b
            for b in breakdown(lambda r: r.category_id, category_ids, category_label)
            if b.reports.current or b.reports.previous
        ),
        key=lambda b: (-b.reports.current, -b.reports.previous, category_ids.index(b.key)),
    )
    by_severity = breakdown(lambda r: Severity(r.severity), SEVERITY_ORDER, lambda k: k.value)

    reporters = {int(row[0]): int(row[1]) for row in results["reporters"]}

    # -- case flow and activity --
    kind_entries = _sum_by(timeline_rows, lambda r: r.kind, "entries")
    kind_cases = _sum_by(timeline_rows, lambda r: r.kind, "cases")
    breaches_by_system = _sum_by(
        (r for r in timeline_rows if r.kind == "sla_breached"), lambda r: r.system_id, "entries"
    )
    breaches_by_owner = _sum_by(
        (r for r in timeline_rows if r.kind == "sla_breached"), lambda r: r.owner or "", "entries"
    )
    breaches_by_group = _sum_by(
        (r for r in timeline_rows if r.kind == "sla_breached"),
        lambda r: (r.system_id, r.category_id),
        "entries",
    )
    totals = Totals(
        reports=Change(current=points[this].reports, previous=points[last].reports),
        cases=Change(current=points[this].cases, previous=points[last].cases),
        reporters=Change(current=reporters.get(1, 0), previous=reporters.get(0, 0)),
        new_cases=sum(int(r.new) for r in case_rows),
        reopened_cases=kind_cases.get("reopened", 0),
        acknowledged_cases=sum(int(r.acknowledged) for r in case_rows),
        closed_cases=sum(int(r.closed) for r in case_rows),
        sla_breaches=kind_entries.get("sla_breached", 0),
        activity=sum(kind_entries.values()),
    )
    quiet = (
        totals.reports.current == 0
        and totals.activity == 0
        and totals.new_cases == totals.acknowledged_cases == totals.closed_cases == 0
    )

    # -- top cases --
    top_cases = [
        TopCase(
            rank=rank,
            case_id=row.id,
            system_id=row.system_id,
            system_name=names.get(row.system_id, row.system_id),
            category_id=row.category_id,
            category_label=category_label(row.category_id),
            severity=row.severity,
            status=row.status,
            reports=row.reports,
            total_reports=row.report_count,
            score=row.score,
            opened_at=row.opened_at,
            owner=row.owner,
            owner_name=person_name(row.owner) if row.owner else None,
            slack_card_channel=row.slack_card_channel,
            slack_card_ts=row.slack_card_ts,
            output_permalink=row.output_permalink,
        )
        for rank, row in enumerate(results["top_cases"], start=1)
    ]

    # -- movers --
    movers = sorted(
        (
            Mover(
                category_id=b.key,
                label=b.label,
                current=b.reports.current,
                previous=b.reports.previous,
                delta=b.reports.delta,
                ratio=b.reports.ratio,
            )
            for b in by_category
            if b.reports.delta
        ),
        key=lambda m: (
            -abs(m.delta),
            -(abs(m.delta) / m.previous if m.previous else math.inf),
            category_ids.index(m.category_id),
        ),
    )[:MOVERS]

    # -- owner response --
    durations_system, durations_owner = _response_stats(results["response"], window)

    def response(key: str, name: str, stats: _Durations | None, breaches: int) -> Response:
        stats = stats or _Durations()
        return Response(
            key=key,
            name=name,
            acknowledged=stats.acknowledged,
            acknowledge_median_seconds=stats.ack_median,
            acknowledge_p90_seconds=stats.ack_p90,
            resolved=stats.resolved,
            resolve_median_seconds=stats.close_median,
            resolve_p90_seconds=stats.close_p90,
            sla_breaches=breaches,
        )

    response_by_system = [
        response(s.id, s.name, durations_system.get(s.id), breaches_by_system.get(s.id, 0))
        for s in systems
        if s.id in durations_system or breaches_by_system.get(s.id)
    ]
    owners = sorted({*durations_owner, *(k for k, v in breaches_by_owner.items() if v)})
    response_by_owner = sorted(
        (
            response(o, person_name(o), durations_owner.get(o), breaches_by_owner.get(o, 0))
            for o in owners
        ),
        key=lambda r: (r.key == "", r.name.casefold()),
    )

    # -- backlog and loop closure --
    def backlog_row(key: str, name: str, rows: Iterable[Any]) -> BacklogRow:
        rows = list(rows)
        return BacklogRow(
            key=key,
            name=name,
            under_1d=sum(int(r.under_1d) for r in rows),
            from_1d_to_7d=sum(int(r.from_1d_to_7d) for r in rows),
            over_7d=sum(int(r.over_7d) for r in rows),
        )

    backlog_systems = [
        backlog_row(s.id, s.name, (r for r in case_rows if r.system_id == s.id)) for s in systems
    ]
    backlog = Backlog(
        as_of=window.as_of,
        total=backlog_row("", "All systems", case_rows),
        by_system=[b for b in backlog_systems if b.total],
    )
    loop_closure = LoopClosure(
        closed_cases=totals.closed_cases,
        all_told=sum(int(r.all_told) for r in results["loop_closure"]),
    )

    # -- suggested priorities --
    open_by_group: dict[tuple[str, str], int] = defaultdict(int)
    for row in case_rows:
        open_by_group[(row.system_id, row.category_id)] += (
            int(row.under_1d) + int(row.from_1d_to_7d) + int(row.over_7d)
        )
    priorities = suggest_priorities(
        series_rows,
        breaches_by_group,
        open_by_group,
        names,
        category_label,
        routing,
    )

    week_model = Week(
        iso=str(window.week),
        timezone=digest.schedule.timezone,
        start_local=window.start.astimezone(window.tz),
        end_local=window.end.astimezone(window.tz),
        start_utc=window.start,
        end_utc=window.end,
        hours=int((window.end - window.start).total_seconds() // 3600),
        label=window.week.label(),
    )
    system_names = [s.name for s in systems]
    return WeeklyDigest(
        digest=digest.name,
        generated_at=window.now,
        week=week_model,
        systems=systems,
        quiet=quiet,
        headline=quiet_line(system_names, str(window.week)) if quiet else _headline(totals),
        totals=totals,
        by_system=by_system,
        by_category=by_category,
        by_severity=by_severity,
        series=points,
        top_cases=top_cases,
        movers=movers,
        response_by_system=response_by_system,
        response_by_owner=response_by_owner,
        backlog=backlog,
        loop_closure=loop_closure,
        priorities=priorities,
    )


def _headline(totals: Totals) -> str:
    """ "16 reports on 8 cases from 11 people (up from 4 last week); 6 new, 1 reopened, …"."""
    return (
        f"{plural(totals.reports.current, 'report')} on {plural(totals.cases.current, 'case')} "
        f"from {plural(totals.reporters.current, 'person', 'people')} "
        f"({trend(totals.reports)}); {totals.new_cases} new, {totals.reopened_cases} reopened, "
        f"{totals.closed_cases} closed."
    )


__all__ = ["assemble", "build_digest", "percentile"]
