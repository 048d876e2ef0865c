"""Delivering the outbox: claim due messages, send them, retry with backoff, never drop one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

from bot.models import OutboundMessage
from bot.ports import Clock, Outbox
from bot.woken import WokenLoop

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
    ) -> None:
        self._outbox = outbox
        self._senders = senders
        self._clock = clock
        self._lease = lease
        self._batch = batch
        super().__init__()
        self.delivered = 0
        self._unmarked: list[int] = []  # delivered, waiting for the next mark
        self._unmarked_done: asyncio.Future[None] | None = None  # resolved once they are marked
        self._marking = False

    async def drain(self) -> int:
        """Send everything due now; returns how many messages were delivered."""
        delivered = 0
        while True:
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
        they are marked delivered together when the lane is done, in one write."""
        sent: list[int] = []
        try:
            for message in lane:
                if await self._deliver(message):
                    assert message.id is not None
                    sent.append(message.id)
        finally:
            await self._mark_delivered(sent)
        self.delivered += len(sent)
        return len(sent)

    async def _mark_delivered(self, ids: list[int]) -> None:
        """Mark messages delivered. Lanes that finish while a mark is being written share the
        next write (a group commit): under load, one transaction marks many lanes."""
        if not ids:
            return
        self._unmarked += ids
        if self._unmarked_done is None:
            self._unmarked_done = asyncio.get_running_loop().create_future()
        done = self._unmarked_done
        if not self._marking:
            await self._write_marks()
        await asyncio.shield(done)

    async def _write_marks(self) -> None:
        """Write the queued marks, batch after batch, until none are left."""
        self._marking = True
        batch: asyncio.Future[None] | None = None
        try:
            # Lanes whose last reply came in with ours finish now: they join this write.
            await asyncio.sleep(0)
            while self._unmarked:
                ids, batch = self._unmarked, self._unmarked_done
                self._unmarked, self._unmarked_done = [], None
                assert batch is not None
                try:
                    await self._outbox.mark_delivered(ids, self._clock.now())
                except Exception as error:
                    batch.set_exception(error)
                else:
                    batch.set_result(None)
                batch = None
        finally:
            self._marking = False
            # Cancelled mid-write: whoever waits on this batch or the next must not hang.
            for waiting in (batch, self._unmarked_done):
                if waiting is not None and not waiting.done():
                    waiting.cancel()
            if batch is not None or self._unmarked_done is not None:
                self._unmarked, self._unmarked_done = [], None

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
