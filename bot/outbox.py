"""Delivering the outbox: claim due messages, send them, retry with backoff, never drop one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

from bot.models import OutboundMessage
from bot.ports import Clock, Outbox
from bot.woken import GiveWay, WokenLoop

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=3650)


class DeliveryError(Exception):
    """A send that failed; `permanent` means retrying cannot help."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message or raise DeliveryError."""
        ...


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff from 2 s, capped, and never sooner than the platform asked."""
    exponential = timedelta(seconds=2 ** min(max(attempts, 1), 10))
    wait = min(exponential, MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


class OutboxDispatcher(WokenLoop):
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
    ) -> None:
        self._outbox = outbox
        self._senders = senders
        self._clock = clock
        self._lease = lease
        self._batch = batch
        # Work that goes first (filing accepted flags: a message cannot say more than what is
        # filed) while it is behind.
        self._give_way = give_way
        super().__init__()
        self.delivered = 0

    async def drain(self) -> int:
        """Send everything due now; returns how many messages were delivered."""
        delivered = 0
        while True:
            if self._give_way is not None:
                await self._give_way()
            claimed = await self._outbox.claim_due(self._clock.now(), self._lease, self._batch)
            if not claimed:
                return delivered
            lanes: dict[object, list[OutboundMessage]] = {}
            for message in claimed:
                lane = message.payload.get("case_id") or message.payload.get("lane") or message.id
                lanes.setdefault(lane, []).append(message)
            results = await asyncio.gather(
                *(self._deliver_in_order(lane) for lane in lanes.values())
            )
            delivered += sum(results)
            if len(claimed) < self._batch:
                # All that was due is done; what was queued meanwhile woke the loop again.
                return delivered

    async def _deliver_in_order(self, lane: list[OutboundMessage]) -> int:
        """Messages about one case go out in the order they were queued (card before replies);
        they are marked delivered together when the lane is done, in one write (which the store
        may share with other lanes')."""
        sent: list[int] = []
        try:
            for message in lane:
                if await self._deliver(message):
                    assert message.id is not None
                    sent.append(message.id)
        finally:
            await self._outbox.mark_delivered(sent, self._clock.now())
        self.delivered += len(sent)
        return len(sent)

    async def _deliver(self, message: OutboundMessage) -> bool:
        assert message.id is not None
        sender = self._senders.get(message.platform)
        try:
            if sender is None:
                raise DeliveryError(f"no sender for platform '{message.platform}'")
            await sender.send(message)
        except DeliveryError as error:
            self._record_failure(message, error.reason, error.permanent)
            wait = (
                GIVE_UP_AFTER if error.permanent else backoff(message.attempts, error.retry_after)
            )
            await self._outbox.mark_failed(message.id, error.reason, self._clock.now() + wait)
            return False
        except Exception as error:  # a bug in a sender must not stall the outbox
            log.exception("sending outbox message %s failed", message.id)
            await self._outbox.mark_failed(
                message.id, repr(error), self._clock.now() + backoff(message.attempts, None)
            )
            return False
        return True

    @staticmethod
    def _record_failure(message: OutboundMessage, reason: str, permanent: bool) -> None:
        if permanent:
            log.error(
                "outbox message %s (%s) cannot be delivered: %s", message.id, message.method, reason
            )
        else:
            log.warning(
                "outbox message %s (%s) failed, attempt %s: %s",
                message.id,
                message.method,
                message.attempts,
                reason,
            )
