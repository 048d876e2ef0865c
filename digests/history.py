"""Write a case's past through the core's storage ports, stamped at the times it happened.

Demo data (`loopkeeper demo`) and the digest's fixture tests describe each case as a list of
events: reports, triage moves, SLA breaches and which reporters were told how it ended.
`write_history` stores them the way the bot would have (case, reports, hash-chained timeline,
reporters-told receipts), moving a `ReplayClock` along so every row carries the event's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.core.models import (
    Case,
    CaseStatus,
    Channel,
    Report,
    Role,
    Severity,
    TimelineEntry,
)
from bot.core.ports import CardLocations, CaseStore, CaseTransaction
from bot.core.reporters_told import ReporterReceipts, ReporterTold

DELIVERY_DELAY = timedelta(seconds=20)
CLOSING = frozenset({CaseStatus.resolved, CaseStatus.wont_fix, CaseStatus.duplicate})


class ReplayClock:
    """A clock that says whatever time the history being written has reached."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Event:
    """One thing that happened to a case. Build them with the functions below."""

    kind: str
    at: datetime
    actor: str | None = None
    text: str | None = None
    status: CaseStatus | None = None
    delivered: tuple[bool, ...] | None = None
    sla: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    asked: str | None = None
    answered: str | None = None
    expected: str | None = None


def reported(
    at: datetime,
    reporter: str,
    comment: str | None = None,
    *,
    prompt_version: str | None = None,
    model: str | None = None,
    asked: str | None = None,
    answered: str | None = None,
    expected: str | None = None,
) -> Event:
    """A report by `reporter` (the first one opens the case) on an output of that prompt
    version and model: what the AI was asked, its whole answer, and what it should have said."""
    return Event(
        "reported",
        at,
        actor=reporter,
        text=comment,
        prompt_version=prompt_version,
        model=model,
        asked=asked,
        answered=answered,
        expected=expected,
    )


def acknowledged(at: datetime, by: str | None = None) -> Event:
    return Event("acknowledge", at, actor=by)


def closed(
    at: datetime,
    status: CaseStatus = CaseStatus.resolved,
    by: str | None = None,
    delivered: Sequence[bool] | None = None,
    note: str | None = None,
) -> Event:
    """Resolved, won't fix or duplicate. `delivered`: one outcome notice per reporter (in report
    order) delivered or not; None → every reporter told; () → nobody was sent one."""
    if status not in CLOSING:
        raise ValueError(f"{status} does not close a case")
    told = None if delivered is None else tuple(delivered)
    return Event(status.value, at, actor=by, status=status, delivered=told, text=note)


def reopened(at: datetime, reporter: str, comment: str | None = None) -> Event:
    """The same output flagged again after closing, by `reporter` (a report of theirs too)."""
    return Event("reopened", at, actor=reporter, text=comment)


def sla_breached(at: datetime, sla: str = "acknowledged") -> Event:
    """An SLA deadline passed: `sla` is "acknowledged" or "resolved"."""
    return Event("sla_breached", at, sla=sla)


def commented(at: datetime, author: str, text: str) -> Event:
    return Event("comment", at, actor=author, text=text)


@dataclass(frozen=True)
class CaseHistory:
    output_key: str
    system_id: str
    category_id: str
    severity: Severity
    owner: str | None
    owner_role: Role | None
    events: Sequence[Event]
    slack_card: tuple[str, str] | None = None
    output_excerpt: str | None = None
    acknowledge_within: timedelta | None = None
    resolve_within: timedelta | None = None
    dm_platform: str = "slack"
    """Where reporters are told how it ended."""


class HistoryStore(CaseStore, CardLocations, ReporterReceipts, Protocol):
    """What writing a case's past needs: the case store, where its card was, and where
    reporters told go."""


async def write_history(store: HistoryStore, clock: ReplayClock, history: CaseHistory) -> Case:
    """Store one case and everything that happened to it (one transaction, then its
    reporters-told receipts, each stamped when its notice was delivered)."""
    events = sorted(history.events, key=lambda e: e.at)
    if not events or events[0].kind != "reported":
        raise ValueError(f"{history.output_key}: a case opens with a report")
    first = events[0]
    clock.at = first.at
    async with store.transaction() as tx:
        case, created = await tx.lock_or_create_case(
            Case(
                output_key=history.output_key,
                system_id=history.system_id,
                category_id=history.category_id,
                severity=history.severity,
                owner=history.owner,
                owner_role=history.owner_role,
                output_platform="slack",
                output_excerpt=history.output_excerpt,
                created_at=first.at,
                updated_at=first.at,
            )
        )
        if not created:
            raise ValueError(f"a case with output key {history.output_key!r} already exists")
        case_id = case.stored_id
        writer = _Writer(tx, history, case_id)
        await writer.entry(
            first.at,
            first.actor or "unknown",
            "opened",
            {"system": history.system_id, "basis": "history", "owner": history.owner},
        )
        for event in events:
            clock.at = event.at
            case = await writer.apply(case, event)
        opened_at = case.opened_at
        case = case.model_copy(
            update={
                "report_count": len(writer.reports),
                "updated_at": events[-1].at,
                "acknowledge_due_at": opened_at + history.acknowledge_within
                if history.acknowledge_within
                else None,
                "resolve_due_at": opened_at + history.resolve_within
                if history.resolve_within
                else None,
            }
        )
        case = await tx.save_case(case)
    if history.slack_card is not None:
        await store.record_card(case_id, "slack", *history.slack_card)
    for told_at, told in writer.told:
        await store.reporters_told(told, told_at)
    return case


class _Writer:
    def __init__(self, tx: CaseTransaction, history: CaseHistory, case_id: int) -> None:
        self.tx = tx
        self.history = history
        self.case_id = case_id
        self.reports: list[Report] = []
        self.told: list[tuple[datetime, list[ReporterTold]]] = []

    async def entry(self, at: datetime, actor: str, kind: str, detail: dict[str, object]) -> None:
        await self.tx.append_timeline(
            TimelineEntry(case_id=self.case_id, at=at, actor=actor, kind=kind, detail=detail)
        )

    async def report(self, event: Event) -> None:
        reporter = event.actor or "unknown"
        if any(r.reporter_id == reporter for r in self.reports):
            raise ValueError(f"{self.history.output_key}: {reporter} already reported it")
        stored = await self.tx.add_report(
            Report(
                case_id=self.case_id,
                reporter_id=reporter,
                channel=Channel.slack_reaction,
                category_id=self.history.category_id,
                severity=self.history.severity,
                comment=event.text,
                expected=event.expected,
                input=event.asked,
                output=event.answered,
                prompt_version=event.prompt_version,
                model=event.model,
                created_at=event.at,
                updated_at=event.at,
            )
        )
        self.reports.append(stored)
        await self.entry(
            event.at,
            reporter,
            "reported",
            {"category": self.history.category_id, "severity": self.history.severity.value},
        )

    async def apply(self, case: Case, event: Event) -> Case:
        owner = event.actor or self.history.owner or "unknown"
        before = case.status
        if event.kind == "reported":
            await self.report(event)
            return case
        if event.kind == "acknowledge":
            await self.entry(
                event.at, owner, "acknowledge", {"from": before.value, "to": "acknowledged"}
            )
            return case.model_copy(
                update={"status": CaseStatus.acknowledged, "acknowledged_at": event.at}
            )
        if event.status is not None:
            detail: dict[str, object] = {"from": before.value, "to": event.status.value}
            if event.text:
                detail["note"] = event.text
            await self.entry(event.at, owner, event.kind, detail)
            await self.tell_reporters(event)
            return case.model_copy(update={"status": event.status, "closed_at": event.at})
        if event.kind == "reopened":
            await self.entry(
                event.at,
                event.actor or "unknown",
                "reopened",
                {"previous_status": before.value, "owner": self.history.owner},
            )
            case = case.model_copy(
                update={
                    "status": CaseStatus.new,
                    "closed_at": None,
                    "acknowledged_at": None,
                    "reopened_at": event.at,
                }
            )
            if event.actor and all(r.reporter_id != event.actor for r in self.reports):
                await self.report(event)
            return case
        if event.kind == "sla_breached":
            await self.entry(
                event.at,
                "loopkeeper",
                "sla_breached",
                {
                    "sla": event.sla or "acknowledged",
                    "due": event.at.isoformat(),
                    "notified": [p for p in (self.history.owner,) if p],
                },
            )
            return case
        if event.kind == "comment":
            await self.entry(event.at, owner, "comment", {"text": event.text or ""})
            return case
        raise ValueError(f"unknown event kind {event.kind!r}")

    async def tell_reporters(self, event: Event) -> None:
        delivered = event.delivered
        if delivered is None:
            delivered = tuple(True for _ in self.reports)
        owed = min(len(delivered), len(self.reports))
        told = [
            ReporterTold(
                case_id=self.case_id,
                report_id=report.stored_id,
                closed_at=event.at,
                owed=owed,
                platform=self.history.dm_platform,
            )
            for report, done in zip(self.reports, delivered, strict=False)
            if done
        ]
        if told:
            self.told.append((event.at + DELIVERY_DELAY, told))
