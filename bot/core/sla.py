"""Where a case stands against its SLA, in a few words for lists and exports."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.models import Case

NO_SLA = "—"


def sla_state(case: Case, now: datetime) -> str:
    """E.g. "ack overdue 2h", "ack due in 3h", "resolve due in 2d", "met", "resolve missed by 1d".

    An open case not yet acknowledged counts against its acknowledge deadline, then against its
    resolve deadline. A closed case says whether it met both (closing counts as the answer when
    it was never acknowledged). "—" when the case has no deadline to measure.
    """
    if case.status.is_closed:
        return _closed_state(case)
    if case.acknowledged_at is None and case.acknowledge_due_at is not None:
        return _open_state("ack", case.acknowledge_due_at, now)
    if case.resolve_due_at is not None:
        return _open_state("resolve", case.resolve_due_at, now)
    return NO_SLA


def _open_state(what: str, due: datetime, now: datetime) -> str:
    if now >= due:
        return f"{what} overdue {span(now - due)}"
    return f"{what} due in {span(due - now)}"


def _closed_state(case: Case) -> str:
    closed = case.closed_at
    if closed is None or (case.acknowledge_due_at is None and case.resolve_due_at is None):
        return NO_SLA
    if case.resolve_due_at is not None and closed > case.resolve_due_at:
        return f"resolve missed by {span(closed - case.resolve_due_at)}"
    answered = case.acknowledged_at or closed
    if case.acknowledge_due_at is not None and answered > case.acknowledge_due_at:
        return f"ack missed by {span(answered - case.acknowledge_due_at)}"
    return "met"


def span(delta: timedelta) -> str:
    """A duration in its largest whole unit, rounded down: "2d", "3h", "45m", "<1m"."""
    seconds = int(delta.total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "<1m"
