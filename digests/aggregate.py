"""Compute a weekly digest with a handful of GROUP BY queries.

The database does the counting: seven statements (`DigestQueries`), each returning a few grouped
rows at most (per week × system × category × severity, per case for the top cases, per system and
owner for response times), whatever the number of reports. Python then only sums and ranks those
rows (`assemble`). The bench (bench/digest) times the same statements executed bare beside
`build_digest`.

Percentiles: on PostgreSQL `percentile_cont` computes the median and 90th percentile in SQL
(grouping sets: per system and per owner in one pass). SQLite has no percentile function, so
there the query returns one row per case acknowledged or closed during the week, which are few
(a week's worth of triage, not of reports), and the same linear interpolation runs in Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.models import Severity
from bot.routing import Digest, Routing
from digests.model import (
    SEVERITY_WEIGHT,
    Backlog,
    BacklogRow,
    Breakdown,
    Change,
    LoopClosure,
    Mover,
    Priority,
    Response,
    SystemRef,
    TopCase,
    Totals,
    Week,
    WeeklyDigest,
    WeekPoint,
)
from digests.text import plural, quiet_line, times, trend
from digests.week import IsoWeek, zone
from storage.tables import CaseRow, OutboxRow, ReportRow, TimelineRow

WEEKS_IN_SERIES = 8
TOP_CASES = 5
MAX_PRIORITIES = 5
MOVERS = 3
MAX_TREND_BOOST = 4.0
OUTCOME_PREFIX = "slack:outcome:"
"""Reporter outcome DMs: 'slack:outcome:{case_id}:{report_id}:…' (handlers/slack/notices.py)."""
OUTCOME_SLACK = timedelta(hours=1)
"""Outcome messages are enqueued in the transaction that closes the case; this much either side
of the week is searched for them, however the clock moved inside that transaction."""

AnySelect = Select[*tuple[Any, ...]]
_Statement = TypeVar("_Statement", bound=AnySelect)

SEVERITY_ORDER = (Severity.critical, Severity.high, Severity.medium, Severity.low)


@dataclass(frozen=True)
class Window:
    """The instants a digest counts between, all UTC."""

    week: IsoWeek
    tz: tzinfo
    bounds: tuple[datetime, ...]
    """WEEKS_IN_SERIES + 1 instants: bounds[i] starts week `week - 7 + i`; the last ends `week`."""
    now: datetime

    @classmethod
    def of(cls, week: IsoWeek, tz: tzinfo | str, now: datetime) -> Window:
        local = zone(tz)
        first = week.shift(-(WEEKS_IN_SERIES - 1))
        bounds = tuple(first.shift(i).start_utc(local) for i in range(WEEKS_IN_SERIES + 1))
        return cls(week=week, tz=local, bounds=bounds, now=now.astimezone(UTC))

    @property
    def start(self) -> datetime:
        return self.bounds[-2]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    @property
    def previous_start(self) -> datetime:
        return self.bounds[-3]

    @property
    def as_of(self) -> datetime:
        """When the backlog is measured: the week's end, or now for the week in progress."""
        return min(self.end, self.now)


def _opened() -> ColumnElement[datetime]:
    """When a case's current round of triage began: its creation or its latest reopening."""
    return func.coalesce(CaseRow.reopened_at, CaseRow.created_at)


def _within(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class DigestQueries:
    """The statements one digest needs, by name; `build_digest` runs them in this order."""

    def __init__(self, dialect: str, window: Window, system_ids: Sequence[str] | None) -> None:
        self.dialect = dialect
        self.window = window
        self.system_ids = list(system_ids) if system_ids is not None else None

    def statements(self) -> dict[str, AnySelect]:
        return {
            "series": self.series(),
            "reporters": self.reporters(),
            "top_cases": self.top_cases(),
            "cases": self.cases(),
            "timeline": self.timeline(),
            "response": self.response(),
            "loop_closure": self.loop_closure(),
        }

    def _scoped(self, statement: _Statement) -> _Statement:
        if self.system_ids is None:
            return statement
        return statement.where(CaseRow.system_id.in_(self.system_ids))

    def series(self) -> AnySelect:
        """Reports and cases per week of the series × case system × category × severity."""
        w = self.window
        last = len(w.bounds) - 2
        bucket = case(
            *((ReportRow.created_at >= w.bounds[i], i) for i in range(last, 0, -1)), else_=0
        )
        rows = self._scoped(
            select(
                bucket.label("bucket"),
                CaseRow.system_id,
                CaseRow.category_id,
                CaseRow.severity,
                ReportRow.case_id,
            )
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(_within(ReportRow.created_at, w.bounds[0], w.end))
        ).subquery()
        keys = (rows.c.bucket, rows.c.system_id, rows.c.category_id, rows.c.severity)
        return select(
            *keys,
            func.count().label("reports"),
            func.count(distinct(rows.c.case_id)).label("cases"),
        ).group_by(*keys)

    def reporters(self) -> AnySelect:
        """Distinct reporters this week (bucket 1) and last week (bucket 0)."""
        w = self.window
        statement = select(
            case((ReportRow.created_at >= w.start, 1), else_=0).label("bucket"),
            ReportRow.reporter_id,
        ).where(_within(ReportRow.created_at, w.previous_start, w.end))
        if self.system_ids is not None:
            statement = self._scoped(statement.join(CaseRow, CaseRow.id == ReportRow.case_id))
        rows = statement.subquery()
        return select(rows.c.bucket, func.count(distinct(rows.c.reporter_id))).group_by(
            rows.c.bucket
        )

    def top_cases(self, limit: int = TOP_CASES) -> AnySelect:
        """The cases with the highest reports-this-week × severity weight."""
        w = self.window
        weight = case(*((CaseRow.severity == s, SEVERITY_WEIGHT[s]) for s in Severity), else_=1)
        reports = func.count(ReportRow.id).label("reports")
        score = (func.count(ReportRow.id) * weight).label("score")
        return (
            self._scoped(
                select(
                    CaseRow.id,
                    CaseRow.system_id,
                    CaseRow.category_id,
                    CaseRow.severity,
                    CaseRow.status,
                    CaseRow.report_count,
                    _opened().label("opened_at"),
                    CaseRow.owner,
                    CaseRow.slack_card_channel,
                    CaseRow.slack_card_ts,
                    CaseRow.output_permalink,
                    reports,
                    score,
                )
                .join(ReportRow, ReportRow.case_id == CaseRow.id)
                .where(_within(ReportRow.created_at, w.start, w.end))
            )
            .group_by(CaseRow.id)
            .order_by(score.desc(), reports.desc(), CaseRow.id)
            .limit(limit)
        )

    def cases(self) -> AnySelect:
        """Per system × category: opened, acknowledged and closed this week; backlog by age."""
        w = self.window
        opened = _opened()
        as_of = w.as_of
        open_then = and_(
            opened < as_of, or_(CaseRow.closed_at.is_(None), CaseRow.closed_at >= as_of)
        )
        day_old, week_old = as_of - timedelta(days=1), as_of - timedelta(days=7)
        return (
            self._scoped(
                select(
                    CaseRow.system_id,
                    CaseRow.category_id,
                    _count_if(_within(CaseRow.created_at, w.start, w.end)).label("new"),
                    _count_if(_within(CaseRow.acknowledged_at, w.start, w.end)).label(
                        "acknowledged"
                    ),
                    _count_if(_within(CaseRow.closed_at, w.start, w.end)).label("closed"),
                    _count_if(and_(open_then, opened > day_old)).label("under_1d"),
                    _count_if(and_(open_then, opened <= day_old, opened >= week_old)).label(
                        "from_1d_to_7d"
                    ),
                    _count_if(and_(open_then, opened < week_old)).label("over_7d"),
                ).where(
                    CaseRow.created_at < w.end,
                    or_(CaseRow.closed_at.is_(None), CaseRow.closed_at >= w.start),
                )
            )
        ).group_by(CaseRow.system_id, CaseRow.category_id)

    def timeline(self) -> AnySelect:
        """Timeline entries this week per kind × system × category × owner."""
        w = self.window
        keys = (TimelineRow.kind, CaseRow.system_id, CaseRow.category_id, CaseRow.owner)
        return (
            self._scoped(
                select(
                    *keys,
                    func.count().label("entries"),
                    func.count(distinct(TimelineRow.case_id)).label("cases"),
                )
                .join(CaseRow, CaseRow.id == TimelineRow.case_id)
                .where(_within(TimelineRow.at, w.start, w.end))
            )
        ).group_by(*keys)

    def response(self) -> AnySelect:
        """Time to acknowledge and to resolve, per system and per owner.

        PostgreSQL: median and p90 in SQL. SQLite: the durations' endpoints, one row per case
        acknowledged or closed this week, for `percentile` to interpolate.
        """
        w = self.window
        opened = _opened()
        acknowledged = _within(CaseRow.acknowledged_at, w.start, w.end)
        closed = _within(CaseRow.closed_at, w.start, w.end)
        if self.dialect != "postgresql":
            return self._scoped(
                select(
                    CaseRow.system_id,
                    CaseRow.owner,
                    opened.label("opened_at"),
                    CaseRow.acknowledged_at,
                    CaseRow.closed_at,
                ).where(or_(acknowledged, closed))
            )
        ack = case((acknowledged, cast(extract("epoch", CaseRow.acknowledged_at - opened), Float)))
        close = case((closed, cast(extract("epoch", CaseRow.closed_at - opened), Float)))
        rows = self._scoped(
            select(
                CaseRow.system_id,
                CaseRow.owner,
                ack.label("ack"),
                close.label("close"),
            ).where(or_(acknowledged, closed))
        ).subquery()

        def pct(fraction: str, column: Any) -> Any:
            return func.percentile_cont(literal_column(fraction)).within_group(column)

        return select(
            func.grouping(rows.c.system_id).label("by_owner"),
            rows.c.system_id,
            rows.c.owner,
            func.count(rows.c.ack).label("acknowledged"),
            pct("0.5", rows.c.ack).label("ack_median"),
            pct("0.9", rows.c.ack).label("ack_p90"),
            func.count(rows.c.close).label("resolved"),
            pct("0.5", rows.c.close).label("close_median"),
            pct("0.9", rows.c.close).label("close_p90"),
        ).group_by(func.grouping_sets(tuple_(rows.c.system_id), tuple_(rows.c.owner)))

    def loop_closure(self) -> AnySelect:
        """Per system: cases closed this week whose every outcome DM was delivered.

        (How many were closed comes from `cases`.) Driven from this week's outcome messages,
        grouped per case, then joined to their cases by id: a hash join on PostgreSQL, rowid
        look-ups on SQLite.
        """
        w = self.window
        key = OutboxRow.dedupe_key
        start = len(OUTCOME_PREFIX) + 1
        if self.dialect == "postgresql":
            case_key: ColumnElement[str] = func.split_part(key, ":", 3)
        else:
            case_key = func.substr(key, start, func.instr(func.substr(key, start), ":") - 1)
        messages = (
            select(case_key.label("case_key"), OutboxRow.delivered_at)
            .where(
                key.like(OUTCOME_PREFIX + "%"),
                _within(OutboxRow.created_at, w.start - OUTCOME_SLACK, w.end + OUTCOME_SLACK),
            )
            .subquery()
        )
        outcomes = (
            select(
                messages.c.case_key,
                func.count().label("messages"),
                func.count(messages.c.delivered_at).label("delivered"),
            )
            .group_by(messages.c.case_key)
            .subquery()
        )
        if self.dialect == "postgresql":
            same_case = cast(CaseRow.id, String) == outcomes.c.case_key
        else:
            same_case = CaseRow.id == cast(outcomes.c.case_key, Integer)
        return (
            self._scoped(
                select(CaseRow.system_id, func.count().label("all_told"))
                .select_from(outcomes)
                .join(CaseRow, same_case)
                .where(
                    _within(CaseRow.closed_at, w.start, w.end),
                    outcomes.c.messages == outcomes.c.delivered,
                )
            )
        ).group_by(CaseRow.system_id)


QueryResults = Mapping[str, Sequence[Any]]


async def run_queries(connection: AsyncConnection, queries: DigestQueries) -> dict[str, list[Any]]:
    """Execute every statement and fetch its rows (the bare SQL a digest needs)."""
    results: dict[str, list[Any]] = {}
    for name, statement in queries.statements().items():
        results[name] = list((await connection.execute(statement)).all())
    return results


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
        if not person_id:
            return "unassigned"
        person = routing.person(person_id)
        return person.display if person else person_id

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
    priorities = _priorities(
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


def _priorities(
    series_rows: Sequence[Any],
    breaches: Mapping[tuple[str, str], int],
    open_cases: Mapping[tuple[str, str], int],
    names: Mapping[str, str],
    category_label: Any,
    routing: Routing,
) -> list[Priority]:
    """What to fix first: each system × category scored by severity weight × (this week's
    reports × how fast they rose, capped at 4×, + SLA breaches), with a one-line reason."""
    this, last = WEEKS_IN_SERIES - 1, WEEKS_IN_SERIES - 2
    current: dict[tuple[str, str], int] = defaultdict(int)
    previous: dict[tuple[str, str], int] = defaultdict(int)
    group_cases: dict[tuple[str, str], int] = defaultdict(int)
    severity: dict[tuple[str, str], Severity] = {}
    for row in series_rows:
        group = (row.system_id, row.category_id)
        if row.bucket == this:
            current[group] += int(row.reports)
            group_cases[group] += int(row.cases)
            found = Severity(row.severity)
            severity[group] = Severity.highest(found, severity.get(group, found))
        elif row.bucket == last:
            previous[group] += int(row.reports)
    candidates = []
    for group in {*current, *(g for g, n in breaches.items() if n)}:
        system_id, category_id = group
        if group not in severity:
            category = routing.category(category_id)
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
                system_name=names.get(system_id, system_id),
                category_id=category_id,
                category_label=category_label(category_id),
                severity=severity[group],
                reports=reports,
                previous_reports=before,
                cases=group_cases.get(group, 0),
                open_cases=open_cases.get(group, 0),
                sla_breaches=breached,
                score=round(score, 2),
                reason=_reason(
                    reports, before, severity[group], breached, open_cases.get(group, 0)
                ),
            )
        )
    candidates.sort(
        key=lambda p: (-p.score, -p.reports, -p.severity.rank, p.system_id, p.category_id)
    )
    return [
        p.model_copy(update={"rank": rank})
        for rank, p in enumerate(candidates[:MAX_PRIORITIES], start=1)
    ]


def _reason(reports: int, previous: int, severity: Severity, breaches: int, open_cases: int) -> str:
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


__all__ = [
    "DigestQueries",
    "Window",
    "assemble",
    "build_digest",
    "percentile",
    "run_queries",
]
