"""Working off the inbox: raw flags committed at the edge become reports here, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.models import InboxItem
from bot.ports import Clock
from bot.woken import WokenLoop

log = logging.getLogger(__name__)

Handler = Callable[[InboxItem], Awaitable[None]]


class InboxQueue(Protocol):
    async def claim_inbox(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[InboxItem]: ...

    async def finish_inbox(
        self, item_ids: list[int], at: datetime, error: str | None = None
    ) -> None: ...


class Inbox(Protocol):
    async def accept(self, key: str, kind: str, payload: dict[str, Any], at: datetime) -> bool:
        """Commit a raw inbound flag before it is acknowledged; False if `key` was seen."""
        ...


class InboxWorker(WokenLoop):
    name = "inbox"

    def __init__(
        self,
        queue: InboxQueue,
        handlers: Mapping[str, Handler],
        clock: Clock,
        *,
        lease: timedelta = timedelta(minutes=1),
        batch: int = 64,
        concurrency: int = 16,
    ) -> None:
        self._queue = queue
        self._handlers = handlers
        self._clock = clock
        self._lease = lease
        self._batch = batch
        super().__init__()
        self._slots = asyncio.Semaphore(concurrency)
        self.processed = 0

    async def drain(self) -> int:
        """Process everything waiting now; returns how many items were processed."""
        done = 0
        while True:
            items = await self._queue.claim_inbox(self._clock.now(), self._lease, self._batch)
            if not items:
                return done
            results = await asyncio.gather(*(self._process(item) for item in items))
            finished = [item.id for item, ok in zip(items, results, strict=True) if ok]
            await self._queue.finish_inbox(finished, self._clock.now())
            done += len(finished)
            if len(finished) < len(items):
                return done  # failures wait for their lease to expire
            if len(items) < self._batch:
                return done  # all caught up; a flag accepted meanwhile woke the loop again

    async def _process(self, item: InboxItem) -> bool:
        handler = self._handlers.get(item.kind)
        if handler is None:
            log.error("no handler for inbox item %s of kind %s", item.id, item.kind)
            return True  # nothing will ever handle it; don't retry forever
        async with self._slots:
            try:
                await handler(item)
            except Exception as error:
                log.exception(
                    "inbox item %s (%s) failed, attempt %s", item.id, item.kind, item.attempts
                )
                await self._queue.finish_inbox([item.id], self._clock.now(), error=repr(error))
                return False
        self.processed += 1
        return True
