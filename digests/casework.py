"""The digest's sections about cases: top cases, owner response, backlog and loop closure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from digests.counts import sum_by
from digests.model import Backlog, BacklogRow, LoopClosure, Response, TopCase, Totals
from digests.names import Names
from digests.reads import (
    CaseFlow,
    ClosureCount,
    Durations,
    ResponseTimes,
    TimelineCount,
    TopCaseCount,
)
from digests.window import Window

TOP_CASES = 5


def top_cases(rows: Sequence[TopCaseCount], names: Names) -> list[TopCase]:
    """The week's most reported cases (by reports × severity weight), open ones first: those
    the reader can still act on."""
    ordered = sorted(rows, key=lambda r: r.status.is_closed)[:TOP_CASES]  # stable: by score
    return [
        TopCase(
            rank=rank,
            case_id=row.case_id,
            system_id=row.system_id,
            system_name=names.system(row.system_id),
            category_id=row.category_id,
            category_label=names.category(row.category_id),
            severity=row.severity,
            status=row.status,
            reports=row.reports,
            total_reports=row.report_count,
            score=row.score,
            opened_at=row.opened_at,
            owner=row.owner,
            owner_name=names.person(row.owner) if row.owner else None,
            slack_card_channel=row.slack_card_channel,
            slack_card_ts=row.slack_card_ts,
            output_permalink=row.output_permalink,
        )
        for rank, row in enumerate(ordered, start=1)
    ]


def _response(key: str, name: str, stats: Durations | None, breaches: int) -> Response:
    stats = stats or Durations()
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


def _breaches(timeline: Iterable[TimelineCount]) -> list[TimelineCount]:
    return [r for r in timeline if r.kind == "sla_breached"]


def response_by_system(
    times: ResponseTimes, timeline: Sequence[TimelineCount], names: Names
) -> list[Response]:
    breaches = sum_by(_breaches(timeline), lambda r: r.system_id, lambda r: r.entries)
    return [
        _response(s.id, s.name, times.by_system.get(s.id), breaches.get(s.id, 0))
        for s in names.systems
        if s.id in times.by_system or breaches.get(s.id)
    ]


def response_by_owner(
    times: ResponseTimes, timeline: Sequence[TimelineCount], names: Names
) -> list[Response]:
    """Per owner ('' for cases routed to nobody, listed last), by name."""
    breaches = sum_by(_breaches(timeline), lambda r: r.owner or "", lambda r: r.entries)
    owners = sorted({*times.by_owner, *(k for k, v in breaches.items() if v)})
    return sorted(
        (_response(o, names.person(o), times.by_owner.get(o), breaches.get(o, 0)) for o in owners),
        key=lambda r: (r.key == "", r.name.casefold()),
    )


def _backlog_row(key: str, name: str, rows: Iterable[CaseFlow]) -> BacklogRow:
    rows = list(rows)
    return BacklogRow(
        key=key,
        name=name,
        under_1d=sum(r.under_1d for r in rows),
        from_1d_to_7d=sum(r.from_1d_to_7d for r in rows),
        over_7d=sum(r.over_7d for r in rows),
    )


def backlog(cases: Sequence[CaseFlow], window: Window, names: Names) -> Backlog:
    per_system = [
        _backlog_row(s.id, s.name, (r for r in cases if r.system_id == s.id)) for s in names.systems
    ]
    return Backlog(
        as_of=window.as_of,
        total=_backlog_row("", "All systems", cases),
        by_system=[b for b in per_system if b.total],
    )


def loop_closure(totals: Totals, rows: Sequence[ClosureCount]) -> LoopClosure:
    return LoopClosure(closed_cases=totals.closed_cases, all_told=sum(r.all_told for r in rows))


def open_by_group(cases: Sequence[CaseFlow]) -> Mapping[tuple[str, str], int]:
    return sum_by(cases, lambda r: (r.system_id, r.category_id), lambda r: r.open)
