"""The SQL of one weekly digest: a few GROUP BY statements over one week's window.

Each statement returns a few grouped rows at most (per week × system × category × severity, per
case for the top cases, per system and owner for response times), whatever the number of
reports. `storage.digest_reads` runs them and turns the rows into the digest's typed read model
(digests/reads.py); the bench (bench/digest) runs the very same statements bare, through the raw
driver, to compare.

Percentiles: on PostgreSQL `percentile_cont` computes the median and 90th percentile in SQL
(grouping sets: per system and per owner in one pass). SQLite has no percentile function, so
there the `response` statement returns one row per case acknowledged or closed during the week,
which are few (a week's worth of triage, not of reports), and `digests.percentile` interpolates
the same way in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Float,
    Select,
    and_,
    any_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union,
)

from bot.core.models import Severity
from digests.model import SEVERITY_WEIGHT
from digests.reads import TOP_CASE_CANDIDATES
from digests.window import Window
from storage.digest_tables import ReporterToldRow
from storage.tables import CardLocationRow, CaseRow, ReportRow, TimelineRow

VERSION_LOOKBACK = timedelta(weeks=8)
"""How far before the series a version's reports count as "seen before" (it is not new)."""

AnySelect = Select[*tuple[Any, ...]]
_Statement = TypeVar("_Statement", bound=AnySelect)


def _opened() -> ColumnElement[datetime]:
    """When a case's current round of triage began: its creation or its latest reopening."""
    return func.coalesce(CaseRow.reopened_at, CaseRow.created_at)


def _missed_deadline(as_of: Any) -> ColumnElement[Any]:
    """The deadline an open case has missed by `as_of`: acknowledging it, else resolving it."""
    missed_ack = and_(
        CaseRow.acknowledge_due_at < as_of,
        or_(
            CaseRow.acknowledged_at.is_(None), CaseRow.acknowledged_at > CaseRow.acknowledge_due_at
        ),
    )
    return case(
        (missed_ack, CaseRow.acknowledge_due_at),
        (CaseRow.resolve_due_at < as_of, CaseRow.resolve_due_at),
    )


def _within(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class DigestQueries:
    """The statements one digest needs, by name; `SqlDigestReads` runs them in this order."""

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
            "versions": self.versions(),
            "versions_before": self.versions_before(),
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
            .where(_within(ReportRow.created_at, w.bounds[0], w.end), *self._reported_cases())
        ).subquery()
        keys = (rows.c.bucket, rows.c.system_id, rows.c.category_id, rows.c.severity)
        return select(
            *keys,
            func.count().label("reports"),
            func.count(distinct(rows.c.case_id)).label("cases"),
        ).group_by(*keys)

    def _reported_cases(self) -> list[ColumnElement[bool]]:
        """On PostgreSQL, the cases reported in the series' 8 weeks, named up front.

        Joined plainly, PostgreSQL hashes the whole cases table once the series holds more than
        a few thousand reports: a cost that grows with every case ever filed. Given their ids
        as one array (an InitPlan), it reads just those cases through the primary key.
        """
        if self.dialect != "postgresql":
            return []  # SQLite looks cases up by primary key anyway
        w = self.window
        ids = (
            select(func.array_agg(distinct(ReportRow.case_id)))
            .where(_within(ReportRow.created_at, w.bounds[0], w.end))
            .scalar_subquery()
        )
        return [CaseRow.id == any_(cast(ids, ARRAY(BigInteger)))]

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
        return select(
            rows.c.bucket, func.count(distinct(rows.c.reporter_id)).label("reporters")
        ).group_by(rows.c.bucket)

    def top_cases(self, limit: int = TOP_CASE_CANDIDATES) -> AnySelect:
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
                    CardLocationRow.conversation_id.label("slack_card_channel"),
                    CardLocationRow.message_id.label("slack_card_ts"),
                    CaseRow.output_permalink,
                    reports,
                    score,
                )
                .join(ReportRow, ReportRow.case_id == CaseRow.id)
                .outerjoin(
                    CardLocationRow,
                    and_(
                        CardLocationRow.case_id == CaseRow.id, CardLocationRow.platform == "slack"
                    ),
                )
                .where(_within(ReportRow.created_at, w.start, w.end))
            )
            .group_by(CaseRow.id, CardLocationRow.conversation_id, CardLocationRow.message_id)
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
                    func.min(case((open_then, _missed_deadline(as_of)))).label("oldest_breach"),
                ).where(CaseRow.created_at < w.end, self._not_closed_before(w.start))
            )
        ).group_by(CaseRow.system_id, CaseRow.category_id)

    def _not_closed_before(self, start: datetime) -> ColumnElement[bool]:
        """Cases still open, or closed since `start`: found through `ix_cases_closed_at`.

        PostgreSQL reads the OR as two index scans (a BitmapOr). SQLite would scan every case
        ever filed, so there it is spelled as the union of the two index lookups.
        """
        if self.dialect == "postgresql":
            return or_(CaseRow.closed_at.is_(None), CaseRow.closed_at >= start)
        return CaseRow.id.in_(
            union(
                select(CaseRow.id).where(CaseRow.closed_at.is_(None)),
                select(CaseRow.id).where(CaseRow.closed_at >= start),
            )
        )

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
        """Per system: cases closed this week whose every reporter was told how it ended.

        (How many were closed comes from `cases`.) Counted from the reporters-told receipts of
        this week's closings (bot/core/reporters_told.py): all told when a closing has as many
        receipts as it owed notices.
        """
        w = self.window
        told = ReporterToldRow
        closings = (
            select(
                told.case_id,
                told.closed_at,
                func.count().label("told"),
                func.max(told.owed).label("owed"),
            )
            .where(_within(told.closed_at, w.start, w.end))
            .group_by(told.case_id, told.closed_at)
            .subquery()
        )
        return (
            self._scoped(
                select(CaseRow.system_id, func.count().label("all_told"))
                .select_from(closings)
                .join(
                    CaseRow,
                    and_(
                        CaseRow.id == closings.c.case_id, CaseRow.closed_at == closings.c.closed_at
                    ),
                )
                .where(closings.c.told >= closings.c.owed)
            )
        ).group_by(CaseRow.system_id)

    def versions(self) -> AnySelect:
        """Reports per week of the series × case system × report prompt version × model, with
        the first of each group (when a version was first flagged that week)."""
        w = self.window
        last = len(w.bounds) - 2
        bucket = case(
            *((ReportRow.created_at >= w.bounds[i], i) for i in range(last, 0, -1)), else_=0
        )
        rows = self._scoped(
            select(
                bucket.label("bucket"),
                CaseRow.system_id,
                ReportRow.prompt_version,
                ReportRow.model,
                ReportRow.created_at,
            )
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(
                _within(ReportRow.created_at, w.bounds[0], w.end),
                or_(ReportRow.prompt_version.is_not(None), ReportRow.model.is_not(None)),
            )
        ).subquery()
        keys = (rows.c.bucket, rows.c.system_id, rows.c.prompt_version, rows.c.model)
        return select(
            *keys, func.count().label("reports"), func.min(rows.c.created_at).label("first_at")
        ).group_by(*keys)

    def demo_cases(self, prefix: str) -> AnySelect:
        """A demo case opened in the window, if there is one."""
        w = self.window
        return self._scoped(
            select(CaseRow.id)
            .where(
                _within(CaseRow.created_at, w.bounds[0], w.end),
                CaseRow.output_key.startswith(prefix, autoescape=True),
            )
            .limit(1)
        )

    def versions_before(self) -> AnySelect:
        """The versions flagged in the weeks before the series: not new in it."""
        w = self.window
        return self._scoped(
            select(CaseRow.system_id, ReportRow.prompt_version, ReportRow.model)
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(
                _within(ReportRow.created_at, w.bounds[0] - VERSION_LOOKBACK, w.bounds[0]),
                or_(ReportRow.prompt_version.is_not(None), ReportRow.model.is_not(None)),
            )
        ).group_by(CaseRow.system_id, ReportRow.prompt_version, ReportRow.model)
