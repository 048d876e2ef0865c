"""What the timers say about a surge: its end after the quiet period, and the escalation and
SLA notices of its folded cases, said once for the surge rather than once per case.

A folded case still escalates and breaches on its own timers (its timeline and webhooks record
each); but its DM and thread line carry a key per surge, step and person, so the outbox
delivers the first and drops the rest: after 4 h the governance owner hears once about a
surge of 200 unacknowledged cases, not 200 times.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.models import Case, OutboundMessage, Timer
from bot.core.ports import CaseStore, CaseTransaction, Notices
from bot.core.routing_rules import Routing
from bot.core.surge_record import SurgeRecord


async def end_quiet_surges(
    store: CaseStore, routing: Routing, notices: Notices, timers: list[Timer], now: datetime
) -> list[Timer]:
    """Fire claimed quiet timers in a transaction of their own, which locks surges and never a
    case: a filing batch locks a surge and then may lock a case, so one transaction locking
    both the other way round (as a batch of case timers does) could deadlock with it.
    Returns the timers this call fired."""
    async with store.transaction() as tx:
        fired = await tx.finish_timers([t.id for t in timers if t.id is not None], now)
        for timer in timers:
            if timer.id in fired:
                await tx.enqueue_all(await end_quiet_surge(tx, routing, notices, timer, now))
    return [t for t in timers if t.id in fired]


async def end_quiet_surge(
    tx: CaseTransaction, routing: Routing, notices: Notices, timer: Timer, now: datetime
) -> list[OutboundMessage]:
    """A quiet timer fired (its `step` is the surge id): end the surge if no case joined it for
    `surge.quiet`."""
    surge = await tx.lock_surge(timer.step)
    quiet = routing.surge.quiet if routing.surge else timedelta(0)
    if surge is None or not surge.active or surge.last_case_at + quiet > now:
        return []  # ended already, or a later case moved its end: a later timer ends it
    return await end_surge(tx, notices, surge, surge.last_case_at + quiet)


async def end_surge(
    tx: CaseTransaction, notices: Notices, surge: SurgeRecord, at: datetime
) -> list[OutboundMessage]:
    """End the surge (its system may open a new one) and refresh its card one last time."""
    ended = surge.model_copy(update={"ended_at": at})
    await tx.save_surge(ended)
    return notices.surge_card(ended, key=f"surge:{surge.id}:ended")


async def folded_surge(tx: CaseTransaction, routing: Routing, case: Case) -> SurgeRecord | None:
    """The surge the case was folded into; None when it has a card of its own."""
    if routing.surge is None:
        return None
    return await tx.surge_of_case(case.stored_id)


def surge_key(surge: SurgeRecord | None, key: str, what: str) -> str:
    """A notice's outbox key: one per case, or one per surge for a folded case's `what`."""
    return key if surge is None else f"surge:{surge.id}:{what}"


def surge_text(routing: Routing, surge: SurgeRecord | None, text: str) -> str:
    """A notice about one case, said for all the waiting cases of its surge."""
    if surge is None:
        return text
    system = routing.system(surge.system_id)
    name = system.name if system else surge.system_id
    return (
        f"{text} The same goes for the other waiting cases of the surge on {name}: this is "
        "the one message about them."
    )
