"""The outbox and the inbox as an operator sees them: what waits, what is dead-lettered, and
sending it again (`loopkeeper outbox|inbox`, and the queue gauges on /metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import SQLITE_BEGIN_OPTION
from storage.statements import INBOX, OUTBOX


@dataclass(frozen=True)
class QueueCounts:
    inbox_pending: int
    inbox_dead: int
    outbox_pending: int
    outbox_dead: int


@dataclass(frozen=True)
class Queued:
    """One outbox message or inbox item, as listed."""

    id: int
    kind: str  # the outbox message's method, the inbox item's kind
    platform: str | None  # outbox only
    attempts: int
    next_try: datetime | None  # None: dead-lettered, or due now
    last_error: str | None
    dead_at: datetime | None
    created_at: datetime


class SqlQueues:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # SQLite: take the write lock up front, waiting for the bot's own writes to finish.
        sqlite = engine.dialect.name == "sqlite"
        immediate = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}
        self._writer = engine.execution_options(**immediate) if sqlite else engine

    async def counts(self) -> QueueCounts:
        """How many items wait and how many are dead-lettered, in each queue (one query)."""

        def count(table: Table, done: Any, dead: bool) -> Any:
            state = table.c.dead_at.is_not(None) if dead else table.c.dead_at.is_(None)
            return select(func.count()).select_from(table).where(done.is_(None), state)

        query = select(
            count(INBOX, INBOX.c.processed_at, False).scalar_subquery(),
            count(INBOX, INBOX.c.processed_at, True).scalar_subquery(),
            count(OUTBOX, OUTBOX.c.delivered_at, False).scalar_subquery(),
            count(OUTBOX, OUTBOX.c.delivered_at, True).scalar_subquery(),
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one()
        return QueueCounts(*(int(value or 0) for value in row))

    async def outbox(self, *, dead: bool, limit: int = 500) -> list[Queued]:
        """Undelivered messages, oldest first: those still tried, or the dead letters."""
        rows = await self._undone(OUTBOX, OUTBOX.c.delivered_at, dead=dead, limit=limit)
        return [
            Queued(
                id=row.id,
                kind=row.method,
                platform=row.platform,
                attempts=row.attempts,
                next_try=None if row.dead_at else row.next_attempt_at,
                last_error=row.last_error,
                dead_at=row.dead_at,
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def inbox(self, *, dead: bool, limit: int = 500) -> list[Queued]:
        """Unfiled inbound flags, oldest first: those still tried, or the dead letters."""
        rows = await self._undone(INBOX, INBOX.c.processed_at, dead=dead, limit=limit)
        return [
            Queued(
                id=row.id,
                kind=row.kind,
                platform=None,
                attempts=row.attempts,
                next_try=None if row.dead_at else row.lease_until,
                last_error=row.last_error,
                dead_at=row.dead_at,
                created_at=row.received_at,
            )
            for row in rows
        ]

    async def retry_outbox(self, ids: Sequence[int] | None) -> list[int]:
        """Send these undelivered messages (None: every dead letter) again, now, with a fresh
        set of attempts; returns the ids that were reset."""
        waiting = OUTBOX.c.delivered_at.is_(None)
        chosen = OUTBOX.c.dead_at.is_not(None) if ids is None else OUTBOX.c.id.in_(list(ids))
        statement = (
            update(OUTBOX)
            .where(waiting, chosen)
            # Due since it was queued: "now" on this machine's clock could be later than the
            # bot's, if the clocks disagree.
            .values(attempts=0, dead_at=None, next_attempt_at=OUTBOX.c.created_at)
            .returning(OUTBOX.c.id)
        )
        return await self._reset(statement)

    async def retry_inbox(self, ids: Sequence[int] | None) -> list[int]:
        """File these unfiled items (None: every dead letter) again, now, with a fresh set of
        attempts; returns the ids that were reset."""
        waiting = INBOX.c.processed_at.is_(None)
        chosen = INBOX.c.dead_at.is_not(None) if ids is None else INBOX.c.id.in_(list(ids))
        statement = (
            update(INBOX)
            .where(waiting, chosen)
            .values(attempts=0, dead_at=None, lease_until=None)
            .returning(INBOX.c.id)
        )
        return await self._reset(statement)

    async def _undone(self, table: Table, done: Any, *, dead: bool, limit: int) -> Sequence[Any]:
        """Rows of `table` not done yet, oldest first: those still tried, or the dead letters."""
        state = table.c.dead_at.is_not(None) if dead else table.c.dead_at.is_(None)
        query = select(table).where(done.is_(None), state).order_by(table.c.id).limit(limit)
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).all()

    async def _reset(self, statement: Any) -> list[int]:
        async with self._writer.begin() as connection:
            return sorted(int(found) for found in (await connection.execute(statement)).scalars())
