"""Cases, their reports and their timeline: the units of work that change them, and reads."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy import select

from bot.core.models import Case, CaseStatus, Report, TimelineEntry
from bot.core.ports import ChunkWork, Done, Item, ItemWork, ReportWithCase
from storage.batches import each_in_turn, in_chunks
from storage.rows import to_case, to_report, to_timeline_entry
from storage.sessions import Sessions
from storage.statements import CASES, REPORTS, TIMELINE
from storage.tables import CaseRow, ReportRow, TimelineRow
from storage.transaction import SqlCaseTransaction, unit_of_work


class SqlCases:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlCaseTransaction]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        async with unit_of_work(self._db) as tx:
            yield tx

    async def each_in_transaction(
        self, items: Sequence[Item], work: ItemWork[Item, Done]
    ) -> tuple[list[Done], int]:
        """Items in one transaction, committed part-way if an ack waits (storage/batches.py)."""
        async with self.transaction() as tx:
            single_writer = self._db.write_lock is not None
            return await each_in_turn(tx, items, work, single_writer=single_writer)

    async def in_chunks(
        self, items: Sequence[Item], work: ChunkWork[Item, Done]
    ) -> tuple[list[Done], int]:
        """Items in one transaction a chunk at a time, committed between chunks if an ack
        waits (storage/batches.py)."""
        async with self.transaction() as tx:
            single_writer = self._db.write_lock is not None
            return await in_chunks(tx, items, work, single_writer=single_writer)

    async def get_case(self, case_id: int) -> Case | None:
        row = await self._db.read_first(self._db.sql.case_by_id, {"case_id": case_id})
        return None if row is None else to_case(row)

    async def list_cases(
        self, *, status: CaseStatus | None = None, system_id: str | None = None
    ) -> list[Case]:
        """Cases oldest first, optionally only those with this status or of this system."""
        statement = select(CASES).order_by(CaseRow.id)
        if status is not None:
            statement = statement.where(CaseRow.status == status)
        if system_id is not None:
            statement = statement.where(CaseRow.system_id == system_id)
        return [to_case(row) for row in await self._db.read(statement)]

    async def reports_by(self, reporter_id: str, limit: int = 20) -> list[ReportWithCase]:
        """A reporter's most recent reports (by when first filed), newest first, with cases."""
        reports = (
            select(REPORTS)
            .where(ReportRow.reporter_id == reporter_id)
            .order_by(ReportRow.created_at.desc(), ReportRow.id.desc())
            .limit(limit)
        )
        found = [to_report(row) for row in await self._db.read(reports)]
        case_ids = sorted({report.case_id for report in found})
        cases = {
            row.id: to_case(row)
            for row in await self._db.read(select(CASES).where(CaseRow.id.in_(case_ids)))
        }
        return [
            ReportWithCase(report=r, case=cases[r.case_id]) for r in found if r.case_id in cases
        ]

    async def timeline(self, case_id: int) -> list[TimelineEntry]:
        statement = (
            select(TIMELINE)
            .where(TimelineRow.case_id == case_id)
            .order_by(TimelineRow.at, TimelineRow.id)
        )
        return [to_timeline_entry(row) for row in await self._db.read(statement)]

    async def reports_of(self, case_id: int) -> list[Report]:
        """A case's reports, oldest first (a read: no write lock, no row lock)."""
        rows = await self._db.read(self._db.sql.reports_of, {"case_id": case_id})
        return [to_report(row) for row in rows]

    async def has_cases_before(self, moment: datetime) -> bool:
        found = await self._db.read_scalar(
            select(CaseRow.id).where(CaseRow.created_at < moment).limit(1)
        )
        return found is not None
