"""The inbox: raw inbound flags committed before their ack, then claimed and filed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.core.models import InboxItem, OutboundMessage
from storage.merged_writes import ANY_IDS, ONE_INBOX_ROW
from storage.sessions import Sessions
from storage.statements import INBOX
from storage.tables import InboxRow
from storage.transaction import unit_of_work


class SqlInbox:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def accept(self, key: str, kind: str, payload: dict[str, Any], at: datetime) -> bool:
        """Commit a raw inbound flag before it is acknowledged; False if `key` was seen."""
        values = {"key": key, "kind": kind, "payload": payload, "received_at": at, "attempts": 0}
        return bool(await self._db.acks.write(self._db.sql.accept, values, merge=ONE_INBOX_ROW))

    async def claim_inbox(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[InboxItem]:
        """Claim unprocessed inbound flags, oldest first, leasing them until `now + lease`."""
        sql = self._db.sql
        rows = await self._db.lease(sql.inbox_claim, now, now + lease, limit)
        return [InboxItem.model_validate(row, from_attributes=True) for row in rows]

    async def finish_inbox(
        self, item_ids: list[int], at: datetime, error: str | None = None
    ) -> None:
        """Mark inbound flags processed (or record why one failed; its lease then expires)."""
        if not item_ids:
            return
        sql = self._db.sql
        if error:
            values = {"ids": item_ids, "error": error}
            await self._db.group.write(sql.inbox_failed, values, merge=ANY_IDS)
        else:
            await self._db.group.write(sql.inbox_done, {"ids": item_ids, "at": at}, merge=ANY_IDS)

    async def retry_inbox_later(self, item_id: int, error: str, at: datetime) -> None:
        """Record why filing an item failed; it is claimed again from `at`."""
        values = {"item_id": item_id, "error": error, "until": at}
        await self._db.group.write(self._db.sql.inbox_retry_at, values)

    async def bury_inbox(
        self, item_id: int, error: str, at: datetime, notices: Sequence[OutboundMessage]
    ) -> None:
        """Give up on filing an item, and queue what tells its reporter so, together."""
        async with unit_of_work(self._db) as tx:
            await tx.enqueue_all(notices)
            values = {"item_id": item_id, "error": error, "at": at}
            await tx._execute(self._db.sql.inbox_dead, values)

    async def inbox_pending(self) -> int:
        query = (
            select(func.count())
            .select_from(INBOX)
            .where(InboxRow.processed_at.is_(None), InboxRow.dead_at.is_(None))
        )
        return int(await self._db.read_scalar(query) or 0)
