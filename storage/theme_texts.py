"""The themes engine's reading of reports (digests.themes.source.ThemeSource), in SQL.

One statement per week: the reports first filed in the window (`reports.created_at`, indexed),
with the system and category of their case, as the digest counts them. The case's output
excerpt is read only while the routing file's `privacy.store_output_text` is on: switching it
off also stops excerpts stored before from being used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from digests.themes.model import ThemeInput
from storage.tables import CaseRow, ReportRow


class SqlThemeTexts:
    def __init__(self, engine: AsyncEngine, *, include_output: bool) -> None:
        self._engine = engine
        self._include_output = include_output

    async def report_texts(
        self, start: datetime, end: datetime, systems: Sequence[str] | None
    ) -> list[ThemeInput]:
        output: ColumnElement[str | None] = (
            CaseRow.output_excerpt if self._include_output else literal(None)  # type: ignore[assignment]
        )
        has_text = [ReportRow.comment.is_not(None), ReportRow.expected.is_not(None)]
        if self._include_output:
            has_text.append(CaseRow.output_excerpt.is_not(None))
        conditions = [ReportRow.created_at >= start, ReportRow.created_at < end, or_(*has_text)]
        if systems is not None:
            conditions.append(CaseRow.system_id.in_(list(systems)))
        statement = (
            select(
                ReportRow.id,
                ReportRow.case_id,
                CaseRow.system_id,
                CaseRow.category_id,
                ReportRow.comment,
                ReportRow.expected,
                output.label("output"),
            )
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(and_(*conditions))
            .order_by(ReportRow.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            ThemeInput(
                report_id=row.id,
                case_id=row.case_id,
                system_id=row.system_id,
                category_id=row.category_id,
                comment=row.comment,
                expected=row.expected,
                output=row.output,
            )
            for row in rows
        ]
