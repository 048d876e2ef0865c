"""Delivering the outbox: claim due messages, send them, retry with backoff, never drop one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.core.burst_priorities import GiveWay
from bot.core.drain_loop import DrainLoop
from bot.core.log_context import bound
from bot.core.models import OutboundMessage
from bot.core.pacing import Pacing
from bot.core.ports import Clock, Outbox, Platforms
from bot.core.reporters_told import ReporterReceipts, receipt_of
from bot.core.telemetry import FLAGGED_AT, NO_EVENTS, Events

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=10)
LANES_REMEMBERED = 10_000
MAX_ATTEMPTS = 12
"""Attempts before a message is dead-lettered: with the backoff below (2 s doubling to 10 min)
the last is about 37 minutes after the first, which outlasts a Slack or Teams hiccup. A longer
outage leaves dead letters an operator sends again with `loopkeeper outbox retry --all-dead`
(`loopkeeper_outbox_dead` on /metrics says they are there). A permanent failure (the channel
is gone, the bot was removed) is dead-lettered at once."""


class DeliveryError(Exception):
    """A send that failed; `permanent` means retrying cannot help."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class Dropped(Exception):
    """A message nobody wants sent any more (its webhook was removed from routing.yaml): it
    ends at once, its reason kept on the row, instead of being retried to a dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message or raise DeliveryError (or Dropped)."""
        ...


@runtime_checkable
class ReadsAhead(Protocol):
    """A sender that reads what a claimed batch's messages need at once, before they are
    sent one by one (a read per table for the batch, not a few per message)."""

    async def claimed(self, messages: Sequence[OutboundMessage]) -> None:
        """The batch claimed for this sender's platform, about to be sent. May fail: each
        send then reads for itself."""
        ...


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff from 2 s, capped, and never sooner than the platform asked."""
    exponential = timedelta(seconds=2 ** min(max(attempts, 1), 10))
    wait = min(exponential, MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


class OutboxDispatcher(DrainLoop):
    name = "outbox delivery"

    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        give_way: GiveWay | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        events: Events = NO_EVENTS,
        platforms: Platforms | None = None,
        receipts: ReporterReceipts | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        # Each destination at its platform's rate (bot/core/pacing.py); None: as fast as sent.
        self._pacing = pacing
        self._wake_at: asyncio.TimerHandle | None = None
        self._lanes_waiting: dict[object, tuple[datetime, int]] = {}
        """Lanes (cases) whose message (by id) waits for its destination's budget, and until
        when: what of theirs was queued after it and is claimed meanwhile waits behind it."""
        self._events = events
        self._platforms = platforms
        self._receipts = receipts
        self._outbox = outbox
        self._senders = senders
        self._clock = clock
        self._lease = lease
        self._batch = batch
        self._max_attempts = max_attempts
        # Work that goes first (filing accepted flags: a message cannot say more than what is
        # filed) while it is behind.
        self._give_way = give_way
        super().__init__()
        self.delivered = 0
        self.failures = 0  # failed attempts, by this process
        self.dead_lettered = 0  # messages given up on, by this process
        self.paced = 0  # messages that waited for their destination's budget, in this process
        self.throttled = 0  # sends answered with Retry-After (429, or busy), in this process
        self.dropped = 0  # messages ended unsent (Dropped), by this process
        self._drop_reasons: set[str] = set()  # each logged once per process

    async def drain(self) -> int:
        """Send everything due now; returns how many messages were delivered."""
        delivered = 0
        # What the last batch delivered: marked in the next claim's transaction (one commit
        # for both), or on its own when there is no next claim.
        unmarked: list[OutboundMessage] = []
        try:
            while True:
                if self._give_way is not None:
                    await self._give_way()
                claimed = await self._outbox.claim_due(
                    self._clock.now(),
                    self._lease,
                    self._batch,
                    self._platforms,
                    delivered=[m.id for m in unmarked if m.id is not None],
                )
                self._marked(unmarked)
                unmarked = []
                if not claimed:
                    return delivered
                await self._read_ahead(claimed)
                lanes: dict[object, list[OutboundMessage]] = {}
                for message in claimed:
                    lanes.setdefault(lane_of(message), []).append(message)
                ordered = list(lanes.values())
                if self._pacing is not None:
                    pacing = self._pacing  # urgent lanes take their destinations' slots first
                    ordered.sort(key=lambda lane: min(pacing.purpose(m) for m in lane))
                sent: list[OutboundMessage] = []
                try:
                    await asyncio.gather(*(self._deliver_in_order(lane, sent) for lane in ordered))
                finally:
                    # Receipts first: should the process die before the mark, the notice is
                    # sent again (harmless) rather than delivered and never counted as told.
                    await self._record_receipts(sent, self._clock.now())
                    unmarked = sent
                delivered += len(sent)
                if len(claimed) < self._batch:
                    # All that was due is done; what was queued meanwhile woke the loop again.
                    return delivered
        finally:
            if unmarked:
                ids = [m.id for m in unmarked if m.id is not None]
                await self._outbox.mark_delivered(ids, self._clock.now())
                self._marked(unmarked)

    async def _read_ahead(self, claimed: list[OutboundMessage]) -> None:
        by_platform: dict[str, list[OutboundMessage]] = {}
        for message in claimed:
            by_platform.setdefault(message.platform, []).append(message)
        for platform, messages in by_platform.items():
            sender = self._senders.get(platform)
            if not isinstance(sender, ReadsAhead):
                continue
            try:
                await sender.claimed(messages)
            except Exception:  # each send reads for itself, as it would without this
                log.warning(
                    "reading ahead for %s %s messages failed",
                    len(messages),
                    platform,
                    exc_info=True,
                )

    async def _deliver_in_order(
        self, lane: list[OutboundMessage], sent: list[OutboundMessage]
    ) -> None:
        """Messages about one case go out in the order they were queued (card before replies);
        each one delivered joins `sent`. They are marked delivered with the whole batch, in
        the next claim's transaction (leased until then, so none is sent twice unless the
        process dies first)."""
        for index, message in enumerate(lane):
            if await self._paced(lane[index:]):
                break
            if await self._deliver(message):
                sent.append(message)

    def _marked(self, sent: list[OutboundMessage]) -> None:
        """Count messages whose delivery is committed."""
        for message in sent:
            self._count_delivered(message)
        self.delivered += len(sent)

    async def _paced(self, rest: list[OutboundMessage]) -> bool:
        """Whether the next message of a lane must wait for its destination's budget (or
        behind an earlier message of its lane that does); if so, it and the rest of its lane
        wait until then (without counting an attempt)."""
        if self._pacing is None:
            return False
        first = rest[0]
        assert first.id is not None
        now, lane = self._clock.now(), lane_of(first)
        slot_of = None
        until, behind = self._lanes_waiting.get(lane, (now, first.id))
        if until <= now or behind >= first.id:  # only what was queued later waits behind
            wait = await self._pacing.admit(first, now)
            if wait is None:
                return False
            until, slot_of = wait.until, first.id if wait.holds_slot else None
            behind = first.id
        self._lanes_waiting[lane] = (until, behind)
        ids = [m.id for m in rest if m.id is not None]
        await self._outbox.defer(ids, until, slot_of=slot_of)
        self.paced += len(ids)
        self._wake_by(until)
        if len(self._lanes_waiting) > LANES_REMEMBERED:
            self._lanes_waiting = {k: v for k, v in self._lanes_waiting.items() if v[0] > now}
        return True

    def _wake_by(self, moment: datetime) -> None:
        """Run again when deferred messages come due (the ticker alone would be late)."""
        delay = max((moment - self._clock.now()).total_seconds(), 0.0)
        loop = asyncio.get_running_loop()
        if self._wake_at is not None and self._wake_at.when() <= loop.time() + delay:
            return
        if self._wake_at is not None:
            self._wake_at.cancel()
        self._wake_at = loop.call_later(delay, self._woken)

    def _woken(self) -> None:
        self._wake_at = None
        self.wake()

    async def _record_receipts(self, delivered: list[OutboundMessage], now: datetime) -> None:
        if self._receipts is None:
            return
        told = [r for r in map(receipt_of, delivered) if r is not None]
        if not told:
            return
        try:
            await self._receipts.reporters_told(told, now)
        except Exception:  # loop closure undercounts; the notices themselves went out
            log.warning("recording %s reporters told failed", len(told), exc_info=True)

    def _count_delivered(self, message: OutboundMessage) -> None:
        self._events.notice_delivered(message.platform)
        flagged_at = message.payload.get(FLAGGED_AT)
        if not isinstance(flagged_at, str):
            return
        try:
            elapsed = self._clock.now() - datetime.fromisoformat(flagged_at)
        except (ValueError, TypeError):  # a row edited by hand must not stop delivery
            return
        self._events.card_posted(message.platform, elapsed.total_seconds())

    async def _deliver(self, message: OutboundMessage) -> bool:
        with bound(case=message.payload.get("case_id"), platform=message.platform):
            return await self._deliver_one(message)

    async def _deliver_one(self, message: OutboundMessage) -> bool:
        assert message.id is not None
        sender = self._senders.get(message.platform)
        try:
            if sender is None:
                raise DeliveryError(f"no sender for platform '{message.platform}'")
            await sender.send(message)
        except DeliveryError as error:
            reason = one_line(error.reason)
            if error.retry_after is not None:
                self.throttled += 1
                if self._pacing is not None:
                    await self._pacing.throttled(message, self._clock.now(), error.retry_after)
            await self._failed(message, reason, error.permanent, error.retry_after)
            return False
        except Dropped as drop:
            await self._drop(message, one_line(drop.reason))
            return False
        except Exception as error:  # a bug in a sender must not stall the outbox
            # One line: a traceback per attempt of every queued message would bury the log.
            log.debug("sending outbox message %s raised", message.id, exc_info=True)
            await self._failed(message, one_line(repr(error)), False, None)
            return False
        return True

    async def _failed(
        self, message: OutboundMessage, reason: str, permanent: bool, retry_after: float | None
    ) -> None:
        """Retry later with backoff, or, when retrying cannot help or was tried enough, stop."""
        assert message.id is not None
        self.failures += 1
        now = self._clock.now()
        last = message.attempts >= self._max_attempts
        self._events.notice_failed(message.platform, permanent or last)
        if permanent or last:
            why = "cannot be delivered" if permanent else f"failed {message.attempts} times"
            log.warning(
                "outbox message %s (%s) %s, dead-lettered: %s",
                message.id,
                message.method,
                why,
                reason,
            )
            self.dead_lettered += 1
            await self._outbox.mark_dead(message.id, reason, now)
            return
        log.warning(
            "outbox message %s (%s) failed, attempt %s of %s: %s",
            message.id,
            message.method,
            message.attempts,
            self._max_attempts,
            reason,
        )
        await self._outbox.mark_failed(
            message.id, reason, now + backoff(message.attempts, retry_after)
        )

    async def _drop(self, message: OutboundMessage, reason: str) -> None:
        assert message.id is not None
        self.dropped += 1
        await self._outbox.mark_dropped(message.id, reason, self._clock.now())
        if reason in self._drop_reasons:  # one line per reason, not one per queued event
            log.debug("outbox message %s (%s) dropped: %s", message.id, message.method, reason)
            return
        self._drop_reasons.add(reason)
        log.warning(
            "outbox message %s (%s) dropped, as will be any other for the same reason: %s",
            message.id,
            message.method,
            reason,
        )


def lane_of(message: OutboundMessage) -> object:
    """Messages of one lane go out in the order queued: a case's, or those named alike."""
    return message.payload.get("case_id") or message.payload.get("lane") or message.id


def one_line(text: str, limit: int = 500) -> str:
    """An error as one short line, for the log and the stored last error."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
