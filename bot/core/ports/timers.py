"""Durable timers, claimed under a lease (the escalation worker)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from bot.core.models import Timer


class TimerQueue(Protocol):
    async def claim_timers(self, now: datetime, lease: timedelta, limit: int = 100) -> list[Timer]:
        """Claim due, unfired timers whose lease is free, leasing them until `now + lease`."""
        ...
