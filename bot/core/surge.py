"""Surges: many new cases on one system at once fold into one announcement.

When a system gets more than `surge.cases` new cases within `surge.within`, the case that
crosses the line opens a surge: the triage channel gets one surge card, updated in place as
more cases arrive (at most one update per `UPDATE_EVERY`), and each owner of its cases one DM.
The cases keep their own records, timelines, SLA timers and escalation chains; what is folded
is their announcement: no card of their own and no "routed to you" DM (the chain's `after: 0m`
step is the surge DM). A quiet timer ends the surge after `surge.quiet` without a new case;
the next case after that is announced on its own again.

The surge row is opened under a unique constraint on its active system, so replicas racing to
open one open one; a joining case locks it, so counts never go backwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.durations import format_duration
from bot.core.escalation import schedule
from bot.core.models import Case, OutboundMessage, TimelineEntry, Timer, TimerKind
from bot.core.ports import CaseTransaction, Notices
from bot.core.routing_rules import Routing
from bot.core.surge_notices import end_surge
from bot.core.surge_record import SurgeRecord
from bot.core.update_steps import step_end

UPDATE_EVERY = timedelta(seconds=15)
"""A surge card is updated at most this often: arrivals within one step share one update."""


def _step_end(surge: SurgeRecord, now: datetime) -> datetime:
    """The end of the update step `now` falls in, counted from the surge's opening."""
    return step_end(surge.opened_at, now, UPDATE_EVERY)


async def fold_new_case(
    tx: CaseTransaction,
    routing: Routing,
    notices: Notices,
    case: Case,
    created: bool,
    now: datetime,
) -> tuple[list[OutboundMessage], bool]:
    """For intake: the messages to queue for a case just filed, and whether the case was folded
    into a surge (then they are all it needs: its timers are scheduled too)."""
    if not created or routing.surge is None:
        return [], False
    folded, messages = await fold(tx, routing, notices, case, now)
    if folded:
        messages += await schedule(tx, routing, case, folded_at=now)
    return messages, folded


async def fold(
    tx: CaseTransaction, routing: Routing, notices: Notices, case: Case, now: datetime
) -> tuple[bool, list[OutboundMessage]]:
    """Fold a case created now into its system's surge, opening one if this case crosses the
    threshold. Returns whether it was folded (then it needs no card or first DM of its own, and
    its timers are scheduled here) and the messages to queue."""
    rules = routing.surge
    if rules is None:
        return False, []
    messages: list[OutboundMessage] = []
    surge = await tx.lock_active_surge(case.system_id)
    if surge is not None and surge.last_case_at + rules.quiet <= now:
        messages += await end_surge(tx, notices, surge, surge.last_case_at + rules.quiet)
        surge = None
    opened: SurgeRecord | None = None
    if surge is None:
        recent = await tx.recent_cases(case.system_id, now - rules.within, rules.cases + 1)
        # Cases filed after this one in the same batch (stored together, announced in turn)
        # are not yet part of its window.
        recent = [(case_id, at) for case_id, at in recent if case_id <= case.stored_id]
        if len(recent) <= rules.cases:
            return False, messages
        opened = await _open(tx, case, recent, now)
        # None: another replica opened it first, so this case joins theirs.
        surge = opened or await tx.lock_active_surge(case.system_id)
        if surge is None:
            return False, messages
        if opened is not None:
            messages += notices.surge_card(opened, key=f"surge:{opened.id}:post", post=True)
    if opened is None:  # joining: count the case, and refresh the card at its step's end
        surge = surge.model_copy(update={"case_count": surge.case_count + 1, "last_case_at": now})
        await tx.save_surge(surge)
        await tx.link_surge_cases(surge.stored_id, [case.stored_id], folded=True)
        step_end = _step_end(surge, now)
        messages += [
            m.model_copy(update={"next_attempt_at": step_end})
            for m in notices.surge_card(
                surge, key=f"surge:{surge.id}:update:{step_end.isoformat()}"
            )
        ]
    if case.owner:  # one DM per owner per surge: the outbox drops the repeats by their key
        messages += notices.surge_direct(
            case.owner,
            _dm_text(routing, surge, rules.cases, rules.within),
            surge,
            key=f"surge:{surge.id}:dm:{case.owner}",
        )
    await _schedule(tx, surge, case, now, rules.quiet)
    return True, messages


async def _open(
    tx: CaseTransaction, case: Case, recent: list[tuple[int, datetime]], now: datetime
) -> SurgeRecord | None:
    """Open the system's surge with the cases of the window (this one folded, the earlier ones
    already carded); None when another replica opened one first."""
    candidate = SurgeRecord(
        system_id=case.system_id,
        first_seen_at=recent[0][1],
        opened_at=now,
        last_case_at=now,
        case_count=len(recent),
    )
    opened = await tx.open_surge(candidate)
    if opened is None:
        return None
    earlier = [case_id for case_id, _ in recent if case_id != case.id]
    await tx.link_surge_cases(opened.stored_id, earlier, folded=False)
    await tx.link_surge_cases(opened.stored_id, [case.stored_id], folded=True)
    return opened


async def _schedule(
    tx: CaseTransaction,
    surge: SurgeRecord,
    case: Case,
    now: datetime,
    quiet: timedelta,
) -> None:
    """The surge's quiet timer for this update step (the case's own timers are the caller's),
    and the case's timeline saying it was folded."""
    timers: list[Timer] = []
    step_end = _step_end(surge, now)
    timers.append(
        Timer(
            key=f"surge:{surge.id}:quiet:{step_end.isoformat()}",
            case_id=case.stored_id,
            kind=TimerKind.surge_quiet,
            step=surge.stored_id,
            due_at=step_end + quiet,
        )
    )
    await tx.schedule_timers(timers)
    await tx.add_timeline(
        TimelineEntry(
            case_id=case.stored_id,
            at=now,
            actor="loopkeeper",
            kind="surge",
            detail={"surge": surge.id, "owner": case.owner},
        )
    )


def _dm_text(routing: Routing, surge: SurgeRecord, cases: int, within: timedelta) -> str:
    system = routing.system(surge.system_id)
    name = system.name if system else surge.system_id
    return (
        f"🌊 Surge on {name}: more than {cases} new cases within {format_duration(within)}. "
        "They are folded into one surge card in the triage channel, updated as more arrive; "
        "triage each from there or with `/loopkeeper cases`. This is the one message you get "
        "for the whole surge."
    )
