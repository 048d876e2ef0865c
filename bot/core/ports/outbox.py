"""The outbox, as its delivery worker sees it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.models import OutboundMessage


@dataclass(frozen=True)
class Platforms:
    """Which outbox messages a delivery loop takes: those for `names`, or with `others`, all but
    those (so a slow webhook receiver never holds up chat messages, each has its own loop)."""

    names: frozenset[str]
    others: bool = False


class Outbox(Protocol):
    async def claim_due(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 50,
        platforms: Platforms | None = None,
        *,
        delivered: Sequence[int] = (),
    ) -> list[OutboundMessage]:
        """Claim undelivered messages that are due (for `platforms` only, if given), oldest first.

        Claiming pushes each message's next attempt to `now + lease` and counts an attempt,
        so another worker (or replica) does not take it while this one is sending. The
        messages `delivered` are marked delivered at `now` first, in the same transaction.
        """
        ...

    async def mark_delivered(self, message_ids: list[int], at: datetime) -> None: ...

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None: ...

    async def defer(
        self, message_ids: list[int], until: datetime, *, slot_of: int | None = None
    ) -> None:
        """Hand claimed messages back unsent, due at `until`; the claim's attempt does not
        count (they waited for their destination's budget, nothing failed). `slot_of` holds
        the send slot at `until` (its `paced_slot`); the others hold none."""
        ...

    async def mark_dead(self, message_id: int, error: str, at: datetime) -> None:
        """Stop retrying the message; it keeps its error until an operator sends it again."""
        ...

    async def mark_dropped(self, message_id: int, reason: str, at: datetime) -> None:
        """End the message unsent, for good: nobody wants it any more; `reason` says why."""
        ...

    async def pending_count(self) -> int: ...
