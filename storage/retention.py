"""Forgetting what is done with: delivery ids seen, messages delivered, flags filed, dead
letters nobody sent again, and surges the digest no longer reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete

from storage.sessions import Sessions
from storage.statements import INBOX, OUTBOX
from storage.surge_tables import SurgeRow
from storage.tables import InboxRow, OutboxRow, ProcessedDeliveryRow


@dataclass(frozen=True)
class DeadPruned:
    """How many dead letters went, by queue."""

    outbox: int
    inbox: int


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
            return _total(deliveries, delivered, processed)

    async def prune_dead(self, before: datetime) -> DeadPruned:
        """Delete outbox messages and inbox items dead-lettered before `before` (a retried one
        is not dead any more; dead again, its time starts over)."""
        async with self._db.write_session() as connection:
            # delivered_at IS NULL first: the outbox index on it skips the delivered rows.
            outbox = await connection.execute(
                delete(OUTBOX).where(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at < before)
            )
            inbox = await connection.execute(
                delete(INBOX).where(InboxRow.processed_at.is_(None), InboxRow.dead_at < before)
            )
            return DeadPruned(outbox=_total(outbox), inbox=_total(inbox))

    async def prune_surges(self, before: datetime) -> int:
        """Delete surges that ended before `before`, with their case links and card places
        (ON DELETE CASCADE); a surge still going is kept however old."""
        async with self._db.write_session() as connection:
            ended = await connection.execute(
                delete(SurgeRow).where(SurgeRow.ended_at.is_not(None), SurgeRow.ended_at < before)
            )
            return _total(ended)


def _total(*results: object) -> int:
    return sum(int(getattr(result, "rowcount", 0) or 0) for result in results)
