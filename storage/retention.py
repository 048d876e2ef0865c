"""Forgetting what is done with: delivery ids seen, messages delivered, flags filed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from storage.sessions import Sessions
from storage.statements import INBOX, OUTBOX
from storage.tables import InboxRow, OutboxRow, ProcessedDeliveryRow


class SqlRetention:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def prune(self, before: datetime) -> int:
        """Forget delivery ids seen, outbox messages delivered and inbox items processed
        before `before`; returns how many rows went."""
        async with self._db.write_session() as connection:
            deliveries = await connection.execute(
                delete(ProcessedDeliveryRow).where(ProcessedDeliveryRow.seen_at < before)
            )
            delivered = await connection.execute(
                delete(OUTBOX).where(OutboxRow.delivered_at < before)
            )
            processed = await connection.execute(
                delete(INBOX).where(InboxRow.processed_at < before)
            )
            counts: list[int] = [
                int(result.rowcount or 0)  # type: ignore[attr-defined]
                for result in (deliveries, delivered, processed)
            ]
            return sum(counts)
