"""What the orchestrator reads of the app's database while it waits: queue lengths and the
cases filed. Read from the orchestrator's own process, so polling costs the app nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import create_engine
from storage.tables import CaseRow, InboxRow, OutboxRow

IDLE = {"inbox_pending": 0, "outbox_pending": 0}
"""The floor and bare bolt queue nothing."""


class Queues:
    def __init__(self, engine: AsyncEngine | None) -> None:
        self._engine = engine  # None: an app without loopkeeper's tables

    async def pending(self) -> dict[str, int]:
        if self._engine is None:
            return dict(IDLE)
        inbox = (
            select(func.count())
            .select_from(InboxRow)
            .where(InboxRow.processed_at.is_(None), InboxRow.dead_at.is_(None))
        )
        outbox = (
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at.is_(None))
        )
        async with self._engine.connect() as connection:
            return {
                "inbox_pending": int(await connection.scalar(inbox) or 0),
                "outbox_pending": int(await connection.scalar(outbox) or 0),
            }

    async def cases(self) -> dict[str, int]:
        """Case ids by the Slack ts of the output flagged."""
        if self._engine is None:
            return {}
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(CaseRow.output_ts, CaseRow.id))
            return {str(ts): int(case_id) for ts, case_id in rows if ts is not None}


@contextlib.asynccontextmanager
async def queues_of(kind: str, database_url: str) -> AsyncIterator[Queues]:
    if kind != "loopkeeper":
        yield Queues(None)
        return
    engine = create_engine(database_url, threaded=True)
    try:
        yield Queues(engine)
    finally:
        await engine.dispose()
