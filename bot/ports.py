"""The ports the core needs, as Protocols: storage and the clock. Adapters live outside bot/."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.models import Case, CaseStatus, OutboundMessage, Report, TimelineEntry


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True)
class ReportWithCase:
    report: Report
    case: Case


class CaseTransaction(Protocol):
    """One atomic unit of work: everything done through it commits together or not at all."""

    async def claim_delivery(self, key: str) -> bool:
        """Record a platform delivery id (Slack event_id, action id); False if already seen."""
        ...

    async def lock_or_create_case(self, case: Case) -> tuple[Case, bool]:
        """Lock the case of `case.output_key`, creating it from `case` if absent.

        Returns the stored case (with its id) and whether it was created now. Two
        transactions racing on one output key end with one case.
        """
        ...

    async def new_case(self, case: Case) -> Case:
        """Insert a case that has no shared output key (a free-form edge case)."""
        ...

    async def save_case(self, case: Case) -> Case: ...

    async def find_report(self, case_id: int, reporter_id: str) -> Report | None: ...

    async def add_report(self, report: Report) -> Report: ...

    async def save_report(self, report: Report) -> Report: ...

    async def case_reports(self, case_id: int) -> list[Report]: ...

    async def append_timeline(self, entry: TimelineEntry) -> TimelineEntry: ...

    async def enqueue(self, message: OutboundMessage) -> bool:
        """Add a message to the outbox; False when one with the same dedupe key exists."""
        ...


class CaseStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[CaseTransaction]: ...

    async def get_case(self, case_id: int) -> Case | None: ...

    async def list_cases(
        self, *, status: CaseStatus | None = None, system_id: str | None = None
    ) -> list[Case]: ...

    async def reports_by(self, reporter_id: str, limit: int = 20) -> list[ReportWithCase]:
        """A reporter's most recent reports, newest first, with their cases."""
        ...

    async def timeline(self, case_id: int) -> list[TimelineEntry]: ...


class Outbox(Protocol):
    async def claim_due(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[OutboundMessage]:
        """Claim undelivered messages that are due, oldest first.

        Claiming pushes each message's next attempt to `now + lease` and counts an attempt,
        so another worker (or replica) does not take it while this one is sending.
        """
        ...

    async def mark_delivered(self, message_id: int, at: datetime) -> None: ...

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None: ...

    async def pending_count(self) -> int: ...
