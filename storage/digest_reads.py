"""The digest's read model over SQL: runs `storage.digest_queries` and types their rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.models import CaseStatus, Severity
from digests.percentile import percentile
from digests.reads import (
    DEMO_KEY_PREFIX,
    CaseFlow,
    ClosureCount,
    Durations,
    ResponseTimes,
    SeriesCount,
    TimelineCount,
    TopCaseCount,
    VersionCount,
    VolumeCount,
    WeekRows,
)
from digests.window import Window
from storage.digest_queries import AnySelect, DigestQueries
from storage.repository import SqlCaseStore
from storage.surges import surges_between
from storage.volume import volume_between


class SqlDigestReads:
    """`digests.reads.DigestReads` on SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def week(self, window: Window, system_ids: Sequence[str] | None) -> WeekRows:
        queries = DigestQueries(self._engine.dialect.name, window, system_ids)
        async with self._engine.connect() as connection:
            if self._engine.dialect.name == "postgresql":
                # One snapshot for every statement, so the numbers agree with each other.
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            rows = {
                name: await _all(connection, statement)
                for name, statement in queries.statements().items()
            }
            volume = await self._volume(connection, window, system_ids)
            demo = bool(await _all(connection, queries.demo_cases(DEMO_KEY_PREFIX)))
            surges = await surges_between(connection, window.start, window.as_of, system_ids)
        return WeekRows(
            series=[
                SeriesCount(
                    bucket=int(r.bucket),
                    system_id=r.system_id,
                    category_id=r.category_id,
                    severity=Severity(r.severity),
                    reports=int(r.reports),
                    cases=int(r.cases),
                )
                for r in rows["series"]
            ],
            reporters={int(r.bucket): int(r.reporters) for r in rows["reporters"]},
            top_cases=[_top_case(r) for r in rows["top_cases"]],
            cases=[
                CaseFlow(
                    system_id=r.system_id,
                    category_id=r.category_id,
                    new=int(r.new),
                    acknowledged=int(r.acknowledged),
                    closed=int(r.closed),
                    under_1d=int(r.under_1d),
                    from_1d_to_7d=int(r.from_1d_to_7d),
                    over_7d=int(r.over_7d),
                    oldest_breach=r.oldest_breach,
                )
                for r in rows["cases"]
            ],
            timeline=[
                TimelineCount(
                    kind=r.kind,
                    system_id=r.system_id,
                    category_id=r.category_id,
                    owner=r.owner,
                    entries=int(r.entries),
                    cases=int(r.cases),
                )
                for r in rows["timeline"]
            ],
            response=(
                _response_in_sql(rows["response"])
                if self._engine.dialect.name == "postgresql"
                else _response_in_python(rows["response"], window)
            ),
            loop_closure=[
                ClosureCount(system_id=r.system_id, all_told=int(r.all_told))
                for r in rows["loop_closure"]
            ],
            versions=[
                VersionCount(
                    bucket=int(r.bucket),
                    system_id=r.system_id,
                    prompt_version=r.prompt_version,
                    model=r.model,
                    reports=int(r.reports),
                    first_at=r.first_at,
                )
                for r in rows["versions"]
            ],
            versions_seen_before=frozenset(
                (r.system_id, r.prompt_version, r.model) for r in rows["versions_before"]
            ),
            volume=volume,
            surges=surges,
            demo=demo,
        )

    async def _volume(
        self, connection: AsyncConnection, window: Window, system_ids: Sequence[str] | None
    ) -> list[VolumeCount]:
        first = window.bounds[0].astimezone(window.tz).date()
        last = window.as_of.astimezone(window.tz).date()
        return await volume_between(connection, first, last, system_ids)


async def _all(connection: AsyncConnection, statement: AnySelect) -> list[Row[Any]]:
    return list((await connection.execute(statement)).all())


def _top_case(row: Row[Any]) -> TopCaseCount:
    return TopCaseCount(
        case_id=int(row.id),
        system_id=row.system_id,
        category_id=row.category_id,
        severity=Severity(row.severity),
        status=CaseStatus(row.status),
        report_count=int(row.report_count),
        opened_at=row.opened_at,
        owner=row.owner,
        slack_card_channel=row.slack_card_channel,
        slack_card_ts=row.slack_card_ts,
        output_permalink=row.output_permalink,
        reports=int(row.reports),
        score=int(row.score),
    )


def _response_in_sql(rows: Sequence[Row[Any]]) -> ResponseTimes:
    """PostgreSQL's grouping sets: one row per system, then one per owner (`by_owner`)."""
    by_system: dict[str, Durations] = {}
    by_owner: dict[str, Durations] = {}
    for row in rows:
        stats = Durations(
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
    return ResponseTimes(by_system=by_system, by_owner=by_owner)


def _response_in_python(rows: Sequence[Row[Any]], window: Window) -> ResponseTimes:
    """SQLite's rows are the week's acknowledged or closed cases: interpolate here."""
    ack: dict[tuple[str, str], list[float]] = defaultdict(list)
    close: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in rows:
        keys = (("system", row.system_id), ("owner", row.owner or ""))
        if row.acknowledged_at is not None and window.start <= row.acknowledged_at < window.end:
            for key in keys:
                ack[key].append((row.acknowledged_at - row.opened_at).total_seconds())
        if row.closed_at is not None and window.start <= row.closed_at < window.end:
            for key in keys:
                close[key].append((row.closed_at - row.opened_at).total_seconds())
    by_system: dict[str, Durations] = {}
    by_owner: dict[str, Durations] = {}
    for key in {*ack, *close}:
        target = by_system if key[0] == "system" else by_owner
        target[key[1]] = Durations(
            len(ack[key]),
            percentile(ack[key], 0.5),
            percentile(ack[key], 0.9),
            len(close[key]),
            percentile(close[key], 0.5),
            percentile(close[key], 0.9),
        )
    return ResponseTimes(by_system=by_system, by_owner=by_owner)


def digest_reads(store: SqlCaseStore) -> SqlDigestReads:
    """The digest's reads on the store's database, off the store's write path (on SQLite, on
    aiosqlite's thread, so acks are not held up meanwhile)."""
    return SqlDigestReads(store.reading_engine)
