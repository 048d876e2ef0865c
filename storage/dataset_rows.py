"""The cases of a dataset export, read a page at a time (keyset pagination on the case id).

Each page is three short reads (its cases, their reports, their closing entries), so an
export of a million cases holds one page in memory, never the lot, and holds no transaction
open between pages (a running bot keeps writing meanwhile).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.dataset import CLOSING_KINDS, Closing, DatasetCase, DatasetQuery, StatusFilter
from bot.core.models import Case, CaseStatus, Report
from storage.statements import CASES, REPORTS
from storage.tables import CaseRow, ReportRow, TimelineRow

PAGE_SIZE = 500


class DatasetRows:
    """The cases `query` selects, oldest first; `pages` counts the pages read so far."""

    def __init__(self, engine: AsyncEngine, query: DatasetQuery, page_size: int = PAGE_SIZE):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._engine = engine
        self._query = query
        self._page_size = page_size
        self.pages = 0

    async def __aiter__(self) -> AsyncIterator[DatasetCase]:
        after = 0
        while True:
            page = await self._page(after)
            for found in page:
                yield found
            if len(page) < self._page_size:
                return
            after = page[-1].case.id or after

    async def _page(self, after: int) -> list[DatasetCase]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(self._cases(after))).all()
            self.pages += 1
            if not rows:
                return []
            ids = [row.id for row in rows]
            reports = await connection.execute(
                select(REPORTS)
                .where(ReportRow.case_id.in_(ids))
                .order_by(ReportRow.case_id, ReportRow.id)
            )
            closings = await connection.execute(
                select(TimelineRow.case_id, TimelineRow.detail)
                .where(TimelineRow.case_id.in_(ids), TimelineRow.kind.in_(CLOSING_KINDS))
                .order_by(TimelineRow.case_id, TimelineRow.id)
            )
            by_case: dict[int, list[Report]] = {case_id: [] for case_id in ids}
            for row in reports:
                by_case[row.case_id].append(Report.model_validate(row, from_attributes=True))
            last_closing = {row.case_id: _closing(row.detail) for row in closings}
        return [
            DatasetCase(
                case=Case.model_validate(row, from_attributes=True),
                reports=by_case[row.id],
                closing=last_closing.get(row.id),
            )
            for row in rows
        ]

    def _cases(self, after: int) -> Select[Any]:
        query = self._query
        statement = (
            select(CASES).where(CaseRow.id > after).order_by(CaseRow.id).limit(self._page_size)
        )
        if query.status is StatusFilter.resolved:
            statement = statement.where(CaseRow.status == CaseStatus.resolved)
        if query.system is not None:
            statement = statement.where(CaseRow.system_id == query.system)
        if query.category is not None:
            statement = statement.where(CaseRow.category_id == query.category)
        if query.since is not None:
            statement = statement.where(CaseRow.created_at >= query.since)
        if not query.include_unlabelled:
            labelled = exists().where(
                ReportRow.case_id == CaseRow.id,
                ReportRow.expected.is_not(None),
                ReportRow.expected != "",
            )
            statement = statement.where(labelled)
        return statement


def _closing(detail: Any) -> Closing:
    found = detail if isinstance(detail, dict) else {}
    reason, note = found.get("reason"), found.get("note")
    return Closing(
        reason=reason if isinstance(reason, str) and reason else None,
        note=note if isinstance(note, str) and note else None,
    )
