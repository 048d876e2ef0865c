"""Escalation chains and SLA breaches as durable timers, and firing them exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.core.case_events import case_event, iso_z
from bot.core.durations import format_duration
from bot.core.fallback import fallback_candidates, reachability, recipients
from bot.core.log_context import bound
from bot.core.models import (
    Case,
    CaseStatus,
    OutboundMessage,
    Role,
    TimelineEntry,
    Timer,
    TimerKind,
)
from bot.core.ports import CaseStore, CaseTransaction, Clock, Notices, Reach, TimerQueue
from bot.core.routing_fields import OWNER
from bot.core.routing_rules import EscalationStep, Routing, System
from bot.core.surge_notices import end_quiet_surges, folded_surge, surge_key, surge_text
from bot.core.telemetry import NO_EVENTS, Events

log = logging.getLogger(__name__)


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def plan(routing: Routing, case: Case, *, chain: bool = True) -> list[Timer]:
    """Every timer the case needs in its current round of triage.

    Keys carry the round (opening time) and deadlines, so a reopened case or a moved deadline
    gets fresh timers while rescheduling the same ones is harmless. The escalation chain
    (`chain`) is planned once per round, when the case opens or reopens: each step's timer
    keeps its target as routing.yaml named it then, so an edit of the file changes the chains
    of new cases, never the steps of a running one.
    """
    assert case.id is not None
    system = routing.system(case.system_id)
    opened = case.opened_at
    timers: list[Timer] = []
    steps = system.escalation if system is not None and chain else []
    for index, step in enumerate(steps):
        assert system is not None
        timers.append(
            Timer(
                key=f"{case.id}:esc:{index}:{_stamp(opened)}",
                case_id=case.id,
                kind=TimerKind.escalation,
                step=index,
                notify=_snapshot(routing, system, step),
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


def _snapshot(routing: Routing, system: System, step: EscalationStep) -> str:
    """A step's target as stored on its timer: "owner" (whoever owns the case when the step
    fires, reassignments included), or the person the step names now (a role resolved)."""
    if step.notify == OWNER:
        return OWNER
    return routing.escalation_target(system, step, None) or step.notify


async def schedule(
    tx: CaseTransaction,
    routing: Routing,
    case: Case,
    *,
    fire_due: tuple[Notices, datetime] | None = None,
    folded_at: datetime | None = None,
    unfolded: bool = False,
) -> list[OutboundMessage]:
    """Store the case's timers. With `fire_due` (when a case opens or reopens), chain steps
    already due (`after: 0m`) fire here, in the caller's transaction, rather than on the next
    tick: the owner hears at once, for one transaction less. Returns the messages the caller
    is to queue. With `folded_at` (a case opened into a surge) the steps already due count as
    done, unsent: the surge's one DM stands for them. `unfolded`: the caller knows the case is
    in no surge (it was just opened on its own), so no step looks for one."""
    if folded_at is not None:
        timers = plan(routing, case)
        await tx.schedule_timers(
            [
                t.model_copy(update={"fired_at": folded_at})
                if t.kind is TimerKind.escalation and t.due_at <= folded_at
                else t
                for t in timers
            ]
        )
        return []
    # Only an opening plans the chain: a later reschedule (a deadline moved) must not add the
    # steps of a routing.yaml edited since.
    timers = plan(routing, case, chain=fire_due is not None)
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
        messages += await escalate(tx, routing, notices, case, timer, now, unfolded=unfolded)
    return messages


async def escalate(
    tx: CaseTransaction,
    routing: Routing,
    notices: Notices,
    case: Case,
    timer: Timer,
    now: datetime,
    reachable: Mapping[str, bool] | None = None,
    platform: str = "Slack",
    *,
    unfolded: bool = False,
) -> list[OutboundMessage]:
    """Act on an escalation step of an unacknowledged case: note it on the timeline, and
    return the messages to queue: a DM to its target and (after the first step) a thread line.

    The step is the one snapshotted on its timer. A target who cannot be reached (per
    `reachable`, looked up before the transaction) hands the step to the conductor, else the
    admins, and the thread says so."""
    found = _step(routing, case, timer)
    if found is None:
        return []
    after, target = found
    sent = recipients(routing, case.system_id, target, reachable or {}, platform)
    first = timer.step == 0 and after == timedelta(0)
    waited = format_duration(after)
    if first:
        dm = f"Case #{case.id} was routed to you: please acknowledge it."
    else:
        dm = f"Case #{case.id} has not been acknowledged after {waited}: it is escalated to you."
    if sent.note is not None:
        line: str | None = (
            f"⏫ {sent.note}" if first else f"⏫ Not acknowledged after {waited}: {sent.note}"
        )
        dm = dm.removesuffix(".") + f" ({routing.name_of(target)} could not be reached)."
        log.warning("case #%s, escalation step %s: %s", case.id, timer.step, sent.note)
    elif first:
        line = None
    else:
        line = f"⏫ Not acknowledged after {waited}: escalated to {routing.name_of(target)}."
    messages: list[OutboundMessage] = []
    # Folded into a surge: then said once for the surge.
    surge = None if unfolded else await folded_surge(tx, routing, case)
    for person in sent.people:
        key = f"timer:{timer.key}:dm" if len(sent.people) == 1 else f"timer:{timer.key}:dm:{person}"
        key = surge_key(surge, key, f"esc:{timer.step}:{person}")
        messages += notices.direct(person, surge_text(routing, surge, dm), case, key=key)
    if line:
        key = surge_key(surge, f"timer:{timer.key}:thread", f"esc:{timer.step}:thread")
        messages += notices.thread(case, surge_text(routing, surge, line), key=key)
    detail: dict[str, object] = {
        "step": timer.step,
        "notified": sent.people[0] if len(sent.people) == 1 else sent.people,
    }
    if sent.note is not None:
        detail["unreachable"] = target
    await tx.add_timeline(
        TimelineEntry(
            case_id=timer.case_id, at=now, actor="loopkeeper", kind="escalated", detail=detail
        )
    )
    if not first:  # the first step at 0m is the routing itself, announced as case.opened
        messages += case_event(
            routing.webhooks,
            "case.escalated",
            case,
            now,
            actor="loopkeeper",
            reason="not_acknowledged",
            extra={"step": timer.step, "waited": waited, "notified": sent.people},
        )
    return messages


def _step(routing: Routing, case: Case, timer: Timer) -> tuple[timedelta, str | None] | None:
    """(after, target person) of the timer's step: from its snapshot, or, for a timer planned
    before chains were snapshotted, from the current routing (None if it has no such step)."""
    if timer.notify is not None:
        target = case.owner if timer.notify == OWNER else timer.notify
        return timer.due_at - case.opened_at, target
    system = routing.system(case.system_id)
    if system is None or timer.step >= len(system.escalation):
        return None
    step = system.escalation[timer.step]
    return step.after, routing.escalation_target(system, step, case.owner)


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
        reach: Reach | None = None,
        reached_in: str = "Slack",
        lease: timedelta = timedelta(minutes=1),
        batch: int = 200,
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._routing = routing
        self._store = store
        self._queue = queue
        self._clock = clock
        self._notices = notices
        self._on_enqueued = on_enqueued
        self._reach = reach
        self._reached_in = reached_in  # the platform `reach` answers for, to say so
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
            reachable = await self._reachability(timers)
            try:
                acted += await self._fire_batch(timers, reachable)
            except Exception:
                # One bad timer must not hold up its batch: fire them one by one instead.
                log.exception("firing a batch of %s timers failed; firing one by one", len(timers))
                for timer in timers:
                    try:
                        acted += await self._fire_batch([timer], reachable)
                    except Exception:  # its lease expires and a later tick retries it
                        with bound(case=timer.case_id):
                            log.exception("timer %s failed; it will be retried", timer.key)
        if acted and self._on_enqueued:
            self._on_enqueued()
        return acted

    async def _reachability(self, timers: list[Timer]) -> dict[str, bool]:
        """Who the escalation steps among `timers` may notify, and whether each can be reached:
        their snapshotted targets, the systems' owners (a case's owner is read only under its
        lock) and the fallbacks. Looked up now, as no Web API call may run under the locks."""
        steps = [t for t in timers if t.kind is TimerKind.escalation]
        if not steps or self._reach is None:
            return {}
        people = {t.notify for t in steps if t.notify and t.notify != OWNER}
        for system in self._routing.systems:
            people.update(system.owners.values())
            people.update(fallback_candidates(self._routing, system.id))
        try:
            return await reachability(self._reach, people)
        except Exception:  # unknown means reachable: the steps go out as planned
            log.exception("looking up who escalation steps can reach failed")
            return {}

    async def _fire_batch(self, timers: list[Timer], reachable: Mapping[str, bool]) -> int:
        """Fire claimed timers in one transaction, under their cases' row locks (quiet timers
        apart)."""
        now = self._clock.now()
        quiet = [t for t in timers if t.kind is TimerKind.surge_quiet]
        acted: list[Timer] = []
        if quiet:  # they end surges, in a transaction of their own (bot/core/surge_notices.py)
            timers = [t for t in timers if t.kind is not TimerKind.surge_quiet]
            acted += await end_quiet_surges(self._store, self._routing, self._notices, quiet, now)
        async with self._store.transaction() as tx:
            cases = await tx.lock_cases(sorted({t.case_id for t in timers}))
            # If another worker fired a timer first, or its case moved on, it does nothing.
            fired = await tx.finish_timers([t.id for t in timers if t.id is not None], now)
            for timer in timers:
                case = cases.get(timer.case_id)
                if timer.id not in fired or case is None or not self._active(timer, case):
                    continue
                with bound(case=case.id):
                    await self._fire(tx, case, timer, now, reachable)
                acted.append(timer)
        for timer in acted:  # committed: counted once
            self._events.timer_fired(timer.kind.value)
        self.fired += len(acted)
        return len(acted)

    async def _fire(
        self,
        tx: CaseTransaction,
        case: Case,
        timer: Timer,
        now: datetime,
        reachable: Mapping[str, bool],
    ) -> None:
        if timer.kind is TimerKind.escalation:
            messages = await escalate(
                tx, self._routing, self._notices, case, timer, now, reachable, self._reached_in
            )
            await tx.enqueue_all(messages)
        else:
            await self._breach(tx, case, timer)

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
        surge = await folded_surge(tx, self._routing, case)  # then said once for the surge
        said = surge_text(self._routing, surge, line)
        # Per surge, SLA and due day: cases of another severity breach on another day.
        kind = f"{timer.kind}:{timer.due_at:%Y-%m-%d}"
        for person in dict.fromkeys(people):
            key = surge_key(surge, f"timer:{timer.key}:{person}", f"{kind}:{person}")
            await self._send(tx, self._notices.direct(person, said, case, key=key))
        key = surge_key(surge, f"timer:{timer.key}:thread", f"{kind}:thread")
        await self._send(tx, self._notices.thread(case, said, key=key))
        sla = "acknowledge" if timer.kind is TimerKind.acknowledge_breach else "resolve"
        await self._send(
            tx,
            case_event(
                self._routing.webhooks,
                "case.sla_breached",
                case,
                self._clock.now(),
                actor="loopkeeper",
                reason=f"{sla}_overdue",
                extra={
                    "sla": sla,
                    "due_at": iso_z(timer.due_at),
                    "notified": list(dict.fromkeys(people)),
                },
            ),
        )
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
