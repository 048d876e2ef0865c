"""Pacing the outbox: each destination (a Slack channel, a Teams conversation, a person's DM)
gets messages no faster than its platform takes them, so a burst is delivered at the
platform's rate instead of being answered with 429 after 429.

The budget is a token bucket per destination, kept as one number in the database (the
"theoretical arrival time" of the generic cell rate algorithm, GCRA), so every replica spends
the same budget: two replicas together send at the platform's rate, not twice it.

Purpose decides what goes first. Urgent messages (a reporter's confirmation, a case's first
card, the owner's DM) reserve the destination's next free slot, in the order they are claimed,
and may spend its burst; follow-ups (thread replies, card refreshes, digests) only go when the
budget is full and spend one slot at a time, so a backlog of them leaves the burst to a new
case's card and never pushes it back.

A message that waits goes back to the outbox, due at its slot, holding it (`paced_slot`): then
whichever replica claims it sends it without spending again. A 429 holds the destination for
its `Retry-After`; other destinations are not held up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.models import OutboundMessage


@dataclass(frozen=True)
class Pace:
    """A platform's rate for one destination: `per_second` on average, `burst` at once."""

    per_second: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of now a destination's budget may be spent: the burst."""
        return (self.burst - 1) * self.interval


SLACK_CHANNEL = Pace(per_second=1.0, burst=3)
"""Slack's chat.postMessage: about one message per second per channel, short bursts
tolerated (a DM is a channel too)."""
SLACK_TIER_3 = Pace(per_second=50 / 60, burst=10)
"""Slack's Tier 3 methods (chat.update among them): 50+ per minute per workspace."""
SLACK_TIER_4 = Pace(per_second=100 / 60, burst=20)
"""Slack's Tier 4 methods (chat.postEphemeral, a reporter's confirmation in the channel):
100+ per minute per workspace."""
TEAMS_CONVERSATION = Pace(per_second=1 / 2.1, burst=7)
"""Teams, per bot per conversation: 7 per second, 8 per 2 s, 60 per 30 s and 1,800 per hour.
The hour is the tightest over a long burst (one every 2 s); a little under it, so a burst of
seven on top still fits."""


class Purpose(enum.IntEnum):
    """What a message is for, most urgent first."""

    first = 0  # a reporter's confirmation, a case's first card
    owner = 1  # a DM to the person who has to act
    follow_up = 2  # thread replies, card refreshes
    bulk = 3  # digests, files

    @property
    def reserves(self) -> bool:
        """Whether a message of this purpose queues for the next free slot (else it only takes
        a slot that is free now, and tries again when the destination has one)."""
        return self <= Purpose.owner


@dataclass(frozen=True)
class Destination:
    """Where a message lands, for pacing: `key` names the budget it spends."""

    key: str
    pace: Pace
    purpose: Purpose


class Destinations(Protocol):
    def destination(self, message: OutboundMessage) -> Destination | None:
        """Where `message` lands, or None when it is not paced."""
        ...


class SendBudgets(Protocol):
    async def take(
        self, destination: str, now: datetime, pace: Pace, *, reserve: bool
    ) -> datetime | None:
        """Spend one send of `destination`'s budget. None: send now. Otherwise the time it may
        be sent: with `reserve`, that slot is the message's (it is sent then without taking
        again); without, nothing was spent and it should try again then."""
        ...

    async def hold(self, destination: str, until: datetime, pace: Pace) -> None:
        """The platform asked for quiet until `until`: spend nothing before then."""
        ...


@dataclass(frozen=True)
class Taken:
    """What `take` decided, as numbers: `tat` is the budget's new state."""

    tat: float
    wait_until: float | None
    spent: bool


def take(tat: float | None, now: float, pace: Pace, *, reserve: bool) -> Taken:
    """GCRA on plain numbers (seconds): the rule the stores implement in SQL.

    Urgent messages (`reserve`) may spend the burst; the others only a budget that is full
    (`tat` not after now), so they go one interval apart and leave the burst to urgent ones."""
    current = now if tat is None else max(tat, now)
    if reserve:
        if current <= now + pace.tolerance:
            return Taken(current + pace.interval, None, True)
        return Taken(current + pace.interval, current - pace.tolerance, True)
    if current <= now:
        return Taken(current + pace.interval, None, True)
    return Taken(current, current, False)


def held(tat: float | None, until: float, pace: Pace) -> float:
    """The budget after a 429: nothing spendable before `until`, then one at a time."""
    blocked = until + pace.tolerance
    return blocked if tat is None else max(tat, blocked)


SLOT_GRACE = timedelta(seconds=10)
"""How late a message may still use the slot it held: claimed later than that (its process
died, the loop was stalled), it takes a new one rather than send on an old one."""


@dataclass(frozen=True)
class Wait:
    """A message that must wait until `until`; `holds_slot`: the slot at `until` is its."""

    until: datetime
    holds_slot: bool


class Pacing:
    """The outbox's pacer: whether each message may go now, and where it waits otherwise."""

    def __init__(self, budgets: SendBudgets, destinations: Destinations) -> None:
        self._budgets = budgets
        self._destinations = destinations
        self._held: dict[str, datetime] = {}
        """Destinations this process saw a 429 from, and until when: a slot held in one of
        them is given up (it fell inside the hold) and taken again after it."""

    def purpose(self, message: OutboundMessage) -> Purpose:
        found = self._destinations.destination(message)
        return found.purpose if found is not None else Purpose.bulk

    async def admit(self, message: OutboundMessage, now: datetime) -> Wait | None:
        """None: send `message` now. Otherwise when to try it again."""
        found = self._destinations.destination(message)
        if found is None:
            return None
        slot = message.paced_slot
        if slot is not None and slot <= now <= slot + SLOT_GRACE and not self._holds(found, slot):
            return None  # its slot was taken when it was deferred, by whichever replica
        reserve = found.purpose.reserves
        until = await self._budgets.take(found.key, now, found.pace, reserve=reserve)
        return None if until is None else Wait(until, holds_slot=reserve)

    def _holds(self, found: Destination, slot: datetime) -> bool:
        held_until = self._held.get(found.key)
        return held_until is not None and slot < held_until

    async def throttled(self, message: OutboundMessage, now: datetime, retry_after: float) -> None:
        """The platform answered 429: hold the destination until it said."""
        found = self._destinations.destination(message)
        if found is None:
            return
        until = now + timedelta(seconds=max(retry_after, found.pace.interval))
        self._held = {k: v for k, v in self._held.items() if v > now}
        self._held[found.key] = until
        await self._budgets.hold(found.key, until, found.pace)


class AnyDestinations:
    """Destinations from several platforms: the first that knows the message."""

    def __init__(self, *each: Destinations) -> None:
        self._each = each

    def destination(self, message: OutboundMessage) -> Destination | None:
        for destinations in self._each:
            found = destinations.destination(message)
            if found is not None:
                return found
        return None
