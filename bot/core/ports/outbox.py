"""The outbox, as its delivery worker sees it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from bot.core.models import OutboundMessage


class Outbox(Protocol):
    async def claim_due(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[OutboundMessage]:
        """Claim undelivered messages that are due, oldest first.

        Claiming pushes each message's next attempt to `now + lease` and counts an attempt,
        so another worker (or replica) does not take it while this one is sending.
        """
        ...

    async def mark_delivered(self, message_ids: list[int], at: datetime) -> None: ...

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None: ...

    async def mark_dead(self, message_id: int, error: str, at: datetime) -> None:
        """Stop retrying the message; it keeps its error until an operator sends it again."""
        ...

    async def pending_count(self) -> int: ...
