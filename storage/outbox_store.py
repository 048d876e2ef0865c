"""The outbox: messages claimed under a lease, marked delivered, failed or dead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, null, select, update

from bot.core.models import OutboundMessage
from bot.core.ports import Platforms
from storage.merged_writes import ANY_IDS
from storage.outbox_lanes import claims_for
from storage.rows import to_outbound
from storage.sessions import Sessions
from storage.statements import OUTBOX
from storage.tables import OutboxRow


class SqlOutbox:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def claim_due(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 50,
        platforms: Platforms | None = None,
        *,
        delivered: Sequence[int] = (),
    ) -> list[OutboundMessage]:
        """Claim undelivered due messages, oldest first, leasing them until `now + lease`
        (having marked those `delivered` at `now`, in the same transaction)."""
        sql = self._db.sql
        claim = sql.outbox_claim if platforms is None else claims_for(self._db.dialect, platforms)
        first = (sql.delivered, {"ids": list(delivered), "at": now}) if delivered else None
        rows = await self._db.lease(claim, now, now + lease, limit, first=first)
        return [to_outbound(row) for row in rows]

    async def mark_delivered(self, message_ids: list[int], at: datetime) -> None:
        if not message_ids:
            return
        values = {"ids": message_ids, "at": at}
        await self._db.group.write(self._db.sql.delivered, values, merge=ANY_IDS)

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        values = {"message_id": message_id, "error": error, "next_at": next_attempt_at}
        await self._db.group.write(self._db.sql.failed, {**values, "dead_at": None})

    async def defer(
        self, message_ids: list[int], until: datetime, *, slot_of: int | None = None
    ) -> None:
        """Give claimed messages back, due at `until`, their claim's attempt uncounted;
        `slot_of` holds the send slot at `until`."""
        if not message_ids:
            return
        at = literal(until, type_=OUTBOX.c.paced_slot.type)
        slot = case((OUTBOX.c.id == slot_of, at), else_=null()) if slot_of else null()
        statement = (
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(message_ids), OUTBOX.c.delivered_at.is_(None))
            .values(
                next_attempt_at=until,
                attempts=case((OUTBOX.c.attempts > 0, OUTBOX.c.attempts - 1), else_=0),
                paced_slot=slot,
            )
        )
        await self._db.write(statement)

    async def mark_dead(self, message_id: int, error: str, at: datetime) -> None:
        """Stop retrying a message: it waits, with its error, for `loopkeeper outbox retry`."""
        values = {"message_id": message_id, "error": error, "next_at": at, "dead_at": at}
        await self._db.group.write(self._db.sql.failed, values)

    async def mark_dropped(self, message_id: int, reason: str, at: datetime) -> None:
        """Ended unsent: done (pruned with the delivered), the reason kept as its last error."""
        statement = (
            update(OUTBOX)
            .where(OUTBOX.c.id == message_id, OUTBOX.c.delivered_at.is_(None))
            .values(delivered_at=at, last_error=f"dropped: {reason}", dead_at=None)
        )
        await self._db.write(statement)

    async def pending_count(self) -> int:
        """Messages still to be sent (dead letters are not: nobody is trying)."""
        statement = select(func.count()).select_from(OUTBOX)
        waiting = statement.where(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at.is_(None))
        return int(await self._db.read_scalar(waiting) or 0)

    async def undelivered(self, dedupe_keys: list[str]) -> int:
        """How many of these outbox messages are not delivered yet."""
        query = (
            select(func.count())
            .select_from(OUTBOX)
            .where(OutboxRow.dedupe_key.in_(dedupe_keys), OutboxRow.delivered_at.is_(None))
        )
        return int(await self._db.read_scalar(query) or 0)
