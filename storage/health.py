"""What an operator watches that only the database knows: how old the oldest waiting work is,
how many cases are open and how many are past their SLA (read at each /metrics scrape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import CaseStatus, Severity
from bot.core.telemetry import Health
from storage.statements import CASES, INBOX, OUTBOX

CLOSED = [status for status in CaseStatus if status.is_closed]


class SqlHealth:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def read(self, now: datetime) -> Health:
        """Everything in one query: one round trip per scrape, whatever the replicas."""
        is_open = CASES.c.status.not_in(CLOSED)
        breached = or_(
            and_(CASES.c.acknowledged_at.is_(None), CASES.c.acknowledge_due_at < now),
            CASES.c.resolve_due_at < now,
        )

        def count(*where: Any) -> Any:
            return select(func.count()).select_from(CASES).where(*where).scalar_subquery()

        query = select(
            select(func.min(OUTBOX.c.created_at))
            .where(OUTBOX.c.delivered_at.is_(None), OUTBOX.c.dead_at.is_(None))
            .scalar_subquery(),
            select(func.min(INBOX.c.received_at))
            .where(INBOX.c.processed_at.is_(None), INBOX.c.dead_at.is_(None))
            .scalar_subquery(),
            count(is_open, breached),
            *(count(is_open, CASES.c.severity == severity) for severity in Severity),
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one()
        oldest_outbox, oldest_inbox, breaches, *by_severity = row
        return Health(
            oldest_outbox=oldest_outbox,  # min() keeps its column's type: aware UTC datetimes
            oldest_inbox=oldest_inbox,
            open_cases={s: int(n or 0) for s, n in zip(Severity, by_severity, strict=True)},
            sla_breaches=int(breaches or 0),
        )
