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
    """The `SurgeTransaction` port, for `SqlCaseTransaction`.

    A burst of flags on one system folds each new case into the same surge: the transaction
    keeps the surge it locked, and writes its last state and the cases linked to it once, with
    the batch (`flush_surges`), rather than a read and two writes per case."""

    _dialect: str
    _execute: Callable[..., Awaitable[Any]]

    def start_surges(self) -> None:
        self._active: dict[str, SurgeRecord | None] = {}  # by system: locked in this tx
        self._saved: dict[int, SurgeRecord] = {}  # by id: to write
        self._links: list[dict[str, Any]] = []  # surge_cases rows to write

    async def flush_surges(self) -> None:
        """Write the surges saved and the cases linked since the last flush."""
        saved, self._saved = self._saved, {}
        for surge in saved.values():
            await self._execute(
                update(SURGES).where(SurgeRow.id == surge.stored_id).values(**_values(surge))
            )
        if self._links:
            rows = list({(r["surge_id"], r["case_id"]): r for r in self._links}.values())
            self._links = []
            await self._execute(
                _insert(self._dialect, SURGE_CASES).values(rows).on_conflict_do_nothing()
            )

    def forget_surges(self) -> None:
        """After a commit: the locks are gone, so is what they guarded."""
        self._active.clear()

    async def lock_active_surge(self, system_id: str) -> SurgeRecord | None:
        active = self._active
        if system_id in active:
            return active[system_id]
        await self.flush_surges()
        found = await self._execute(
            select(SURGES).where(SurgeRow.active_system == system_id).with_for_update()
        )
        row = found.first()
        active[system_id] = None if row is None else _record(row)
        return active[system_id]

    async def lock_surge(self, surge_id: int) -> SurgeRecord | None:
        await self.flush_surges()
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
        active = self._active
        await self.flush_surges()  # a surge of this system ended in this tx frees it first
        # ON CONFLICT on the active system: a replica that lost the race gets no row back.
        statement = (
            _insert(self._dialect, SURGES)
            .values(**_values(surge))
            .on_conflict_do_nothing(index_elements=["active_system"])
            .returning(SURGES.c.id)
        )
        row = (await self._execute(statement)).first()
        if row is None:
            active.pop(surge.system_id, None)  # theirs: to be locked and read
            return None
        opened = surge.model_copy(update={"id": row.id})
        active[surge.system_id] = opened
        return opened

    async def save_surge(self, surge: SurgeRecord) -> None:
        active = self._active
        self._saved[surge.stored_id] = surge
        if surge.ended_at is not None:
            if (current := active.get(surge.system_id)) is not None and current.id == surge.id:
                active[surge.system_id] = None
        elif surge.system_id in active:
            active[surge.system_id] = surge

    async def link_surge_cases(self, surge_id: int, case_ids: list[int], folded: bool) -> None:
        self._links.extend(
            {"surge_id": surge_id, "case_id": case_id, "folded": folded} for case_id in case_ids
        )

    async def surge_of_case(self, case_id: int) -> SurgeRecord | None:
        await self.flush_surges()
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
