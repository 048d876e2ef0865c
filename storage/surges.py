"""Surges in SQL: the writes a filing or quiet-timer transaction makes (`SurgeWrites`, mixed
into the transaction) and the reads an edge makes to render a surge card (`SqlSurges`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.models import Case, CaseStatus
from bot.core.surge_record import SurgeRecord
from digests.reads import SurgeCount
from storage.rows import to_case
from storage.sessions import Sessions
from storage.statements import CASES
from storage.surge_tables import SurgeCardRow, SurgeCaseRow, SurgeRow
from storage.tables import CaseRow

SURGES: Table = SurgeRow.__table__  # type: ignore[assignment]
SURGE_CASES: Table = SurgeCaseRow.__table__  # type: ignore[assignment]
SURGE_CARDS: Table = SurgeCardRow.__table__  # type: ignore[assignment]
_FIELDS = ("system_id", "first_seen_at", "opened_at", "last_case_at", "case_count", "ended_at")


def _during_surge() -> Any:
    """A case is one of a surge's when its system's case was created from the surge's first
    seen case until it ended: all of them, including those that replicas racing the surge's
    opening still announced on their own."""
    return and_(
        CaseRow.system_id == SurgeRow.system_id,
        CaseRow.created_at >= SurgeRow.first_seen_at,
        or_(SurgeRow.ended_at.is_(None), CaseRow.created_at <= SurgeRow.ended_at),
    )


def _insert(dialect: str, table: Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _record(row: Any) -> SurgeRecord:
    return SurgeRecord(id=row.id, **{name: getattr(row, name) for name in _FIELDS})


def _values(surge: SurgeRecord) -> dict[str, Any]:
    values = {name: getattr(surge, name) for name in _FIELDS}
    values["active_system"] = surge.system_id if surge.ended_at is None else None
    return values


class SurgeWrites:
    """The `SurgeTransaction` port, for `SqlCaseTransaction`."""

    _dialect: str
    _execute: Callable[..., Awaitable[Any]]

    async def lock_active_surge(self, system_id: str) -> SurgeRecord | None:
        found = await self._execute(
            select(SURGES).where(SurgeRow.active_system == system_id).with_for_update()
        )
        row = found.first()
        return None if row is None else _record(row)

    async def lock_surge(self, surge_id: int) -> SurgeRecord | None:
        found = await self._execute(select(SURGES).where(SurgeRow.id == surge_id).with_for_update())
        row = found.first()
        return None if row is None else _record(row)

    async def recent_cases(
        self, system_id: str, since: datetime, limit: int
    ) -> list[tuple[int, datetime]]:
        found = await self._execute(
            select(CaseRow.id, CaseRow.created_at)
            .where(CaseRow.system_id == system_id, CaseRow.created_at > since)
            .order_by(CaseRow.id)
            .limit(limit)
        )
        return [(row.id, row.created_at) for row in found.all()]

    async def open_surge(self, surge: SurgeRecord) -> SurgeRecord | None:
        # ON CONFLICT on the active system: a replica that lost the race gets no row back.
        statement = (
            _insert(self._dialect, SURGES)
            .values(**_values(surge))
            .on_conflict_do_nothing(index_elements=["active_system"])
            .returning(SURGES.c.id)
        )
        row = (await self._execute(statement)).first()
        return None if row is None else surge.model_copy(update={"id": row.id})

    async def save_surge(self, surge: SurgeRecord) -> None:
        await self._execute(
            update(SURGES).where(SurgeRow.id == surge.stored_id).values(**_values(surge))
        )

    async def link_surge_cases(self, surge_id: int, case_ids: list[int], folded: bool) -> None:
        if not case_ids:
            return
        statement = (
            _insert(self._dialect, SURGE_CASES)
            .values([{"surge_id": surge_id, "case_id": c, "folded": folded} for c in case_ids])
            .on_conflict_do_nothing()
        )
        await self._execute(statement)

    async def surge_of_case(self, case_id: int) -> SurgeRecord | None:
        found = await self._execute(
            select(SURGES)
            .join(SURGE_CASES, SurgeCaseRow.surge_id == SurgeRow.id)
            .where(SurgeCaseRow.case_id == case_id, SurgeCaseRow.folded.is_(True))
        )
        row = found.first()
        return None if row is None else _record(row)


class SqlSurges:
    """The `SurgeReads` port: surge cards and the cases they stand for."""

    _db: Sessions

    async def get_surge(self, surge_id: int) -> SurgeRecord | None:
        row = await self._db.read_first(select(SURGES).where(SurgeRow.id == surge_id))
        return None if row is None else _record(row)

    async def surge_cases(self, surge_id: int) -> list[Case]:
        rows = await self._db.read(
            select(CASES)
            .join(SURGES, _during_surge())
            .where(SurgeRow.id == surge_id)
            .order_by(CaseRow.id)
        )
        return [to_case(row) for row in rows]

    async def folded_into(self, case_id: int) -> SurgeRecord | None:
        row = await self._db.read_first(
            select(SURGES)
            .join(SURGE_CASES, SurgeCaseRow.surge_id == SurgeRow.id)
            .where(SurgeCaseRow.case_id == case_id, SurgeCaseRow.folded.is_(True))
        )
        return None if row is None else _record(row)

    async def record_surge_card(
        self, surge_id: int, platform: str, conversation_id: str, message_id: str
    ) -> None:
        statement = (
            _insert(self._db.dialect, SURGE_CARDS)
            .values(
                surge_id=surge_id,
                platform=platform,
                conversation_id=conversation_id,
                message_id=message_id,
            )
            .on_conflict_do_update(
                index_elements=["surge_id", "platform"],
                set_={"conversation_id": conversation_id, "message_id": message_id},
            )
        )
        await self._db.write(statement)

    async def surge_card_of(self, surge_id: int, platform: str) -> tuple[str, str] | None:
        row = await self._db.read_first(
            select(SURGE_CARDS).where(
                SurgeCardRow.surge_id == surge_id, SurgeCardRow.platform == platform
            )
        )
        return None if row is None else (row.conversation_id, row.message_id)


async def surges_between(
    connection: AsyncConnection,
    start: datetime,
    end: datetime,
    system_ids: Sequence[str] | None,
) -> list[SurgeCount]:
    """The digest's surges: those first seen in [start, end), with their cases and how many
    of them are still open."""
    closed = [CaseStatus.resolved, CaseStatus.wont_fix, CaseStatus.duplicate]
    statement = (
        select(
            SurgeRow.system_id,
            SurgeRow.first_seen_at,
            SurgeRow.ended_at,
            func.count(CaseRow.id).label("cases"),
            func.sum(case((CaseRow.status.in_(closed), 0), else_=1)).label("still_open"),
        )
        .join(CASES, _during_surge())
        .where(SurgeRow.first_seen_at >= start, SurgeRow.first_seen_at < end)
        .group_by(SurgeRow.id, SurgeRow.system_id, SurgeRow.first_seen_at, SurgeRow.ended_at)
        .order_by(SurgeRow.first_seen_at)
    )
    if system_ids is not None:
        statement = statement.where(SurgeRow.system_id.in_(list(system_ids)))
    rows = (await connection.execute(statement)).all()
    return [
        SurgeCount(
            system_id=r.system_id,
            first_seen_at=r.first_seen_at,
            ended_at=r.ended_at,
            cases=int(r.cases),
            open=int(r.still_open or 0),
        )
        for r in rows
    ]
