"""Durable timers: claimed under a lease, so replicas and restarts fire each once."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.models import Timer
from storage.sessions import Sessions


class SqlTimers:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def claim_timers(self, now: datetime, lease: timedelta, limit: int = 100) -> list[Timer]:
        """Claim due, unfired timers whose lease is free, leasing them until `now + lease`."""
        sql = self._db.sql
        claim = sql.timers_claim
        rows = await self._db.lease(claim, now, now + lease, limit, order=("due_at", "id"))
        return [Timer.model_validate(row, from_attributes=True) for row in rows]
