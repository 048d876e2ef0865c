"""Send budgets (the core's `SendBudgets` port): one row per destination, spent with a
conditional UPDATE, so replicas share each destination's rate instead of each using all of it.

The rule is bot/core/pacing.py's `take`, written as SQL: a budget is one number, `tat`, and
spending checks and moves it in the same statement, so two replicas cannot both spend the last
of a budget. Every statement keeps to what both SQLite and PostgreSQL run (CASE, not GREATEST).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.pacing import Pace
from storage.sessions import Sessions
from storage.statements import insert
from storage.tables import SendBudgetRow

BUDGETS: Table = SendBudgetRow.__table__  # type: ignore[assignment]


def _later(value: float) -> Any:
    """The later of a budget's `tat` and `value`."""
    return case((BUDGETS.c.tat > value, BUDGETS.c.tat), else_=literal(value))


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SqlSendBudgets:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def take(
        self, destination: str, now: datetime, pace: Pace, *, reserve: bool
    ) -> datetime | None:
        at = now.timestamp()
        async with self._db.write_session() as connection:
            for _ in range(2):  # a second round only if another replica created the row first
                if reserve:
                    found = await self._reserve(connection, destination, at, pace)
                else:
                    found = await self._spend_if_free(connection, destination, at, pace)
                if found is not None:
                    return found[1]
                created = await connection.execute(
                    insert(self._db.dialect, BUDGETS)
                    .values(destination=destination, tat=at + pace.interval)
                    .on_conflict_do_nothing(index_elements=[BUDGETS.c.destination])
                    .returning(BUDGETS.c.destination)
                )
                if created.first() is not None:
                    return None
        return None  # unreachable in practice: the row exists after the first round

    async def _reserve(
        self, connection: AsyncConnection, destination: str, at: float, pace: Pace
    ) -> tuple[bool, datetime | None] | None:
        """Take the next slot, now or later; None when the destination has no row yet."""
        moved = await connection.execute(
            update(BUDGETS)
            .where(BUDGETS.c.destination == destination)
            .values(tat=_later(at) + pace.interval)
            .returning(BUDGETS.c.tat)
        )
        row = moved.first()
        if row is None:
            return None
        current = float(row.tat) - pace.interval
        if current <= at + pace.tolerance:
            return True, None
        return True, _moment(current - pace.tolerance)

    async def _spend_if_free(
        self, connection: AsyncConnection, destination: str, at: float, pace: Pace
    ) -> tuple[bool, datetime | None] | None:
        """Take a slot only if the budget is full now (the burst is left to urgent messages);
        else say when it is (None: no row yet)."""
        moved = await connection.execute(
            update(BUDGETS)
            .where(BUDGETS.c.destination == destination, BUDGETS.c.tat <= at)
            .values(tat=_later(at) + pace.interval)
            .returning(BUDGETS.c.tat)
        )
        if moved.first() is not None:
            return True, None
        tat = await connection.scalar(
            select(BUDGETS.c.tat).where(BUDGETS.c.destination == destination)
        )
        if tat is None:
            return None
        return False, _moment(float(tat))

    async def hold(self, destination: str, until: datetime, pace: Pace) -> None:
        blocked = until.timestamp() + pace.tolerance
        async with self._db.write_session() as connection:
            moved = await connection.execute(
                update(BUDGETS)
                .where(BUDGETS.c.destination == destination)
                .values(tat=_later(blocked))
                .returning(BUDGETS.c.destination)
            )
            if moved.first() is None:
                await connection.execute(
                    insert(self._db.dialect, BUDGETS)
                    .values(destination=destination, tat=blocked)
                    .on_conflict_do_update(
                        index_elements=[BUDGETS.c.destination], set_={"tat": blocked}
                    )
                )
