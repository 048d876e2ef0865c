"""Surges: the writes intake and the quiet timer make under a transaction, and the reads and
card locations the edges need to post and update a surge card."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.core.models import Case
from bot.core.surge_record import SurgeRecord


class SurgeTransaction(Protocol):
    """Surge writes, inside a `CaseTransaction`."""

    async def lock_active_surge(self, system_id: str) -> SurgeRecord | None:
        """The system's surge that has not ended, locked until the transaction ends."""
        ...

    async def lock_surge(self, surge_id: int) -> SurgeRecord | None: ...

    async def recent_cases(
        self, system_id: str, since: datetime, limit: int
    ) -> list[tuple[int, datetime]]:
        """(id, created at) of the system's cases created after `since`, oldest first, at
        most `limit`."""
        ...

    async def open_surge(self, surge: SurgeRecord) -> SurgeRecord | None:
        """Store a new active surge; None when the system has one already (another replica
        opened it first: lock that one instead)."""
        ...

    async def save_surge(self, surge: SurgeRecord) -> None:
        """Store the count, last case and end; an ended surge frees its system for the next."""
        ...

    async def link_surge_cases(self, surge_id: int, case_ids: list[int], folded: bool) -> None:
        """Link cases to the surge (ones linked already are left as they are)."""
        ...

    async def surge_of_case(self, case_id: int) -> SurgeRecord | None:
        """The surge the case was folded into, if any."""
        ...


class SurgeReads(Protocol):
    """What an edge reads to render a surge card and route a folded case's notices."""

    async def get_surge(self, surge_id: int) -> SurgeRecord | None: ...

    async def surge_cases(self, surge_id: int) -> list[Case]:
        """The surge's cases, oldest first: every case of its system created from the first
        one seen until the surge ended (folded or not)."""
        ...

    async def folded_into(self, case_id: int) -> SurgeRecord | None:
        """The surge a case was folded into (announced only by the surge card), if any."""
        ...

    async def record_surge_card(
        self, surge_id: int, platform: str, conversation_id: str, message_id: str
    ) -> None: ...

    async def surge_card_of(self, surge_id: int, platform: str) -> tuple[str, str] | None:
        """(conversation id, message id) of the surge's card on `platform`, if posted."""
        ...
