"""Cases: the unit of work that changes them (intake, triage, escalation) and the reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from bot.core.models import Case, CaseStatus, OutboundMessage, Report, TimelineEntry, Timer
from bot.core.ports.surges import SurgeTransaction


@dataclass(frozen=True)
class ReportWithCase:
    report: Report
    case: Case


class CaseTransaction(SurgeTransaction, Protocol):
    """One atomic unit of work: everything done through it commits together or not at all
    (except in `CaseStore.each_in_transaction`, which the store may commit between items)."""

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

    async def claim_deliveries(self, keys: Sequence[str]) -> set[str]:
        """`claim_delivery` for several keys at once: the ones not seen before."""
        ...

    async def lock_or_create_cases(self, cases: Sequence[Case]) -> list[tuple[Case, bool]]:
        """`lock_or_create_case` for several at once, in order. A later one with an output key
        given earlier in the list gets that case, as not created now."""
        ...

    async def lock_case(self, case_id: int) -> Case | None:
        """The case, locked until the transaction ends; None if there is no such case."""
        ...

    async def lock_case_of_output(self, output_key: str) -> Case | None:
        """The case of this output, locked until the transaction ends; None if none."""
        ...

    async def save_case(self, case: Case) -> Case: ...

    async def find_report(self, case_id: int, reporter_id: str) -> Report | None: ...

    async def add_report(self, report: Report) -> Report: ...

    async def add_reports(self, reports: Sequence[Report]) -> list[Report]:
        """Add several reports, each on a different case, at once; with their ids, in order."""
        ...

    async def save_report(self, report: Report) -> Report: ...

    async def case_reports(self, case_id: int) -> list[Report]: ...

    async def append_timeline(self, entry: TimelineEntry) -> TimelineEntry: ...

    async def add_timeline(self, entry: TimelineEntry) -> None:
        """Append to the timeline when the transaction ends, with the other entries added,
        in order (one write for all); for callers that need no id back."""
        ...

    async def enqueue(self, message: OutboundMessage) -> bool:
        """Add a message to the outbox; False when one with the same dedupe key exists."""
        ...

    async def enqueue_all(self, messages: Sequence[OutboundMessage]) -> int:
        """Add messages to the outbox, in order, in one statement; returns how many were new
        (those whose dedupe key exists are left out)."""
        ...

    async def schedule_timers(self, timers: list[Timer]) -> None:
        """Add timers; ones whose key exists are left as they are. The store may write them
        later in the transaction, with others (nothing reads them before it ends)."""
        ...

    async def lock_cases(self, case_ids: list[int]) -> dict[int, Case]:
        """Lock several cases at once (in id order); absent ones are left out."""
        ...

    async def finish_timers(self, timer_ids: list[int], at: datetime) -> set[int]:
        """Mark timers fired; returns the ids this call fired (others were fired already)."""
        ...


class CaseReads(Protocol):
    """Reading cases, their reports and their timeline: no unit of work."""

    async def get_case(self, case_id: int) -> Case | None: ...

    async def list_cases(
        self, *, status: CaseStatus | None = None, system_id: str | None = None
    ) -> list[Case]: ...

    async def reports_by(self, reporter_id: str, limit: int = 20) -> list[ReportWithCase]:
        """A reporter's most recent reports, newest first, with their cases."""
        ...

    async def timeline(self, case_id: int) -> list[TimelineEntry]: ...

    async def reports_of(self, case_id: int) -> list[Report]:
        """A case's reports, oldest first."""
        ...


Item = TypeVar("Item")
Done = TypeVar("Done")
ItemWork = Callable[[CaseTransaction, Item], Awaitable[tuple[Done, Sequence[OutboundMessage]]]]
"""One item of a batch, done in the batch's transaction: its result, and the messages to queue."""
ChunkWork = Callable[
    [CaseTransaction, Sequence[Item]],
    Awaitable[tuple[Sequence[Done], Sequence[OutboundMessage]]],
]
"""Several items of a batch done together (set-based): their results in order, and the
messages to queue."""


class CaseStore(CaseReads, Protocol):
    """The cases, read and changed in units of work."""

    def transaction(self) -> AbstractAsyncContextManager[CaseTransaction]: ...

    async def each_in_transaction(
        self, items: Sequence[Item], work: ItemWork[Item, Done]
    ) -> tuple[list[Done], int]:
        """Do `work` for each item in one transaction, queueing the messages each returns;
        the results, in order, and how many messages were new. All or none, except that the
        store may commit the items done so far between two items (how it lets more urgent
        writers through: storage/batches.py); a retry of the lot then finds those done."""
        ...

    async def in_chunks(
        self, items: Sequence[Item], work: ChunkWork[Item, Done]
    ) -> tuple[list[Done], int]:
        """Like `each_in_transaction`, but `work` takes a chunk of items at once (so it can
        write them set-based), and the store commits only between chunks; chunks are as large
        as the store can afford (all the items when no other writer waits on it)."""
        ...
