"""Escalation chains and SLA breaches as durable timers, and firing them exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.durations import format_duration
from bot.models import (
    Case,
    CaseStatus,
    OutboundMessage,
    Role,
    TimelineEntry,
    Timer,
    TimerKind,
)
from bot.ports import CaseStore, CaseTransaction, Clock, Notices, TimerQueue
from bot.routing import Routing

log = logging.getLogger(__name__)


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def plan(routing: Routing, case: Case) -> list[Timer]:
    """Every timer the case needs in its current round of triage.

    Keys carry the round (opening time) and deadlines, so a reopened case or a moved deadline
    gets fresh timers while rescheduling the same ones is harmless.
    """
    assert case.id is not None
    system = routing.system(case.system_id)
    opened = case.opened_at
    timers: list[Timer] = []
    for index, step in enumerate(system.escalation if system else []):
        timers.append(
            Timer(
                key=f"{case.id}:esc:{index}:{_stamp(opened)}",
                case_id=case.id,
                kind=TimerKind.escalation,
                step=index,
                due_at=opened + step.after,
            )
        )
    for kind, due in (
        (TimerKind.acknowledge_breach, case.acknowledge_due_at),
        (TimerKind.resolve_breach, case.resolve_due_at),
    ):
        if due is not None:
            timers.append(
                Timer(
                    key=f"{case.id}:{kind.value}:{_stamp(due)}",
                    case_id=case.id,
                    kind=kind,
                    due_at=due,
                )
            )
    return timers


async def schedule(
    tx: CaseTransaction,
    routing: Routing,
    case: Case,
    *,
    fire_due: tuple[Notices, datetime] | None = None,
) -> list[OutboundMessage]:
    """Store the case's timers. With `fire_due` (when a case opens or reopens), chain steps
    already due (`after: 0m`) fire here, in the caller's transaction, rather than on the next
    tick: the owner hears at once, for one transaction less. Returns the messages the caller
    is to queue."""
    timers = plan(routing, case)
    if fire_due is None:
        await tx.schedule_timers(timers)
        return []
    notices, now = fire_due
    due = [t for t in timers if t.kind is TimerKind.escalation and t.due_at <= now]
    await tx.schedule_timers(
        [t.model_copy(update={"fired_at": now}) if t in due else t for t in timers]
    )
    messages: list[OutboundMessage] = []
    for timer in due:
        messages += await escalate(tx, routing, notices, case, timer, now)
    return messages


async def escalate(
    tx: CaseTransaction,
    routing: Routing,
    notices: Notices,
    case: Case,
    timer: Timer,
    now: datetime,
) -> list[OutboundMessage]:
    """Act on an escalation step of an unacknowledged case: note it on the timeline, and
    return the messages to queue: a DM to its target and (after the first step) a thread line."""
    system = routing.system(case.system_id)
    if system is None or timer.step >= len(system.escalation):
        return []
    step = system.escalation[timer.step]
    target = routing.escalation_target(system, step, case.owner)
    if target is None:
        log.warning("escalation step %s of %s names nobody", timer.step, system.id)
        return []
    person = routing.person(target)
    name = person.display if person else target
    if timer.step == 0 and step.after == timedelta(0):
        dm = f"Case #{case.id} was routed to you: please acknowledge it."
        line = None
    else:
        waited = format_duration(step.after)
        dm = f"Case #{case.id} has not been acknowledged after {waited}: it is escalated to you."
        line = f"⏫ Not acknowledged after {waited}: escalated to {name}."
    messages = notices.direct(target, dm, case, key=f"timer:{timer.key}:dm")
    if line:
        messages += notices.thread(case, line, key=f"timer:{timer.key}:thread")
    await tx.add_timeline(
        TimelineEntry(
            case_id=timer.case_id,
            at=now,
            actor="loopkeeper",
            kind="escalated",
            detail={"step": timer.step, "notified": target},
        )
    )
    return messages


class TimerService:
    """Claims due timers (leased, so replicas share the work) and fires each at most once."""

    def __init__(
        self,
        routing: Routing,
        store: CaseStore,
        queue: TimerQueue,
        clock: Clock,
        notices: Notices,
        on_enqueued: Callable[[], None] | None = None,
        *,
        lease: timedelta = timedelta(minutes=1),
        batch: int = 200,
    ) -> None:
        self._routing = routing
        self._store = store
        self._queue = queue
        self._clock = clock
        self._notices = notices
        self._on_enqueued = on_enqueued
        self._lease = lease
        self._batch = batch
        self.fired = 0

    async def fire_due(self) -> int:
        """Fire every timer due now; returns how many acted (stale ones are only retired)."""
        acted = 0
        while True:
            timers = await self._queue.claim_timers(self._clock.now(), self._lease, self._batch)
            if not timers:
                break
            try:
                acted += await self._fire_batch(timers)
            except Exception:
                # One bad timer must not hold up its batch: fire them one by one instead.
                log.exception("firing a batch of %s timers failed; firing one by one", len(timers))
                for timer in timers:
                    try:
                        acted += await self._fire_batch([timer])
                    except Exception:  # its lease expires and a later tick retries it
                        log.exception("timer %s failed; it will be retried", timer.key)
        if acted and self._on_enqueued:
            self._on_enqueued()
        return acted

    async def _fire_batch(self, timers: list[Timer]) -> int:
        """Fire claimed timers in one transaction, under their cases' row locks."""
        now = self._clock.now()
        acted = 0
        async with self._store.transaction() as tx:
            cases = await tx.lock_cases(sorted({t.case_id for t in timers}))
            # If another worker fired a timer first, or its case moved on, it does nothing.
            fired = await tx.finish_timers([t.id for t in timers if t.id is not None], now)
            for timer in timers:
                case = cases.get(timer.case_id)
                if timer.id not in fired or case is None or not self._active(timer, case):
                    continue
                if timer.kind is TimerKind.escalation:
                    messages = await escalate(tx, self._routing, self._notices, case, timer, now)
                    await tx.enqueue_all(messages)
                else:
                    await self._breach(tx, case, timer)
                acted += 1
        self.fired += acted
        return acted

    def _active(self, timer: Timer, case: Case) -> bool:
        if timer.kind is TimerKind.escalation:
            return case.status is CaseStatus.new and timer.key.endswith(_stamp(case.opened_at))
        if timer.kind is TimerKind.acknowledge_breach:
            return (
                case.acknowledged_at is None
                and not case.status.is_closed
                and timer.due_at == case.acknowledge_due_at
            )
        return not case.status.is_closed and timer.due_at == case.resolve_due_at

    async def _breach(self, tx: CaseTransaction, case: Case, timer: Timer) -> None:
        what = "acknowledged" if timer.kind is TimerKind.acknowledge_breach else "resolved"
        people = [
            p for p in (case.owner, self._routing.owner_of(case.system_id, Role.conductor)) if p
        ]
        due = f"{timer.due_at:%Y-%m-%d %H:%M} UTC"
        line = f"⏰ SLA breached: case #{case.id} was not {what} in time (due {due})."
        for person in dict.fromkeys(people):
            await self._send(
                tx, self._notices.direct(person, line, case, key=f"timer:{timer.key}:{person}")
            )
        await self._send(tx, self._notices.thread(case, line, key=f"timer:{timer.key}:thread"))
        await tx.add_timeline(
            TimelineEntry(
                case_id=timer.case_id,
                at=self._clock.now(),
                actor="loopkeeper",
                kind="sla_breached",
                detail={
                    "sla": what,
                    "due": _stamp(timer.due_at),
                    "notified": list(dict.fromkeys(people)),
                },
            )
        )

    async def _send(self, tx: CaseTransaction, messages: list[OutboundMessage]) -> None:
        await tx.enqueue_all(messages)
