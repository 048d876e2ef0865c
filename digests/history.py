"""Write a case's past through the core's storage port, stamped at the times it happened.

Demo data (`loopkeeper demo`) and the digest's fixture tests describe each case as a list of
events: reports, triage moves, SLA breaches and the outcome DMs its reporters got. `write_history`
stores them the way the bot would have (case, reports, hash-chained timeline, outbox rows),
moving a `ReplayClock` along so every row carries the event's time.
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
    OutboundMessage,
    Report,
    Role,
    Severity,
    TimelineEntry,
)
from bot.core.ports import CardLocations, CaseStore, CaseTransaction

REPORTER_DM = {"slack": "loopkeeper.reporter", "teams": "loopkeeper.teams.reporter"}
"""The outbox method of a direct message to a reporter, per platform (handlers/*/notices.py)."""
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


def reported(at: datetime, reporter: str, comment: str | None = None) -> Event:
    """A report by `reporter` (the first one opens the case)."""
    return Event("reported", at, actor=reporter, text=comment)


def acknowledged(at: datetime, by: str | None = None) -> Event:
    return Event("acknowledge", at, actor=by)


def closed(
    at: datetime,
    status: CaseStatus = CaseStatus.resolved,
    by: str | None = None,
    delivered: Sequence[bool] | None = None,
    note: str | None = None,
) -> Event:
    """Resolved, won't fix or duplicate. `delivered`: one outcome DM per reporter (in report
    order) marked delivered or not; None → every reporter told; () → nobody was sent one."""
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
    """Where reporters are told how it ended: outcome DMs are '{platform}:outcome:…' rows."""
    dm_suffix: str = "history"
    """Part of each outcome DM's dedupe key: 'slack:outcome:{case}:{report}:{suffix}:{time}'."""


class HistoryStore(CaseStore, CardLocations, Protocol):
    """Where a history is written: the case, and where its Slack card is."""


async def write_history(store: HistoryStore, clock: ReplayClock, history: CaseHistory) -> Case:
    """Store one case and everything that happened to it, in one transaction."""
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
    return case


class _Writer:
    def __init__(self, tx: CaseTransaction, history: CaseHistory, case_id: int) -> None:
        self.tx = tx
        self.history = history
        self.case_id = case_id
        self.reports: list[Report] = []

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
        for report, done in zip(self.reports, delivered, strict=False):
            await self.tx.enqueue(
                OutboundMessage(
                    dedupe_key=(
                        f"{self.history.dm_platform}:outcome:{self.case_id}:{report.id}:"
                        f"{self.history.dm_suffix}"
                        f":{event.at:%Y%m%dT%H%M%S}"
                    ),
                    platform=self.history.dm_platform,
                    method=REPORTER_DM.get(self.history.dm_platform, REPORTER_DM["slack"]),
                    payload={
                        "case_id": self.case_id,
                        "slack_id": None,
                        "email": None,
                        "text": f"Case #{self.case_id} that you reported was {event.kind}.",
                        "ask": False,
                    },
                    attempts=1 if done else 0,
                    next_attempt_at=event.at,
                    delivered_at=event.at + DELIVERY_DELAY if done else None,
                )
            )
