"""Working off the inbox: raw flags committed at the edge become reports here, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.models import InboxItem
from bot.ports import Clock
from bot.woken import GiveWay, WokenLoop, wait_for_event

log = logging.getLogger(__name__)

Handler = Callable[[InboxItem], Awaitable[None]]
BatchHandler = Callable[[list[InboxItem]], Awaitable[None]]
"""Handles several items of one kind at once, all or none (raises if any failed)."""


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
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        lease: timedelta = timedelta(minutes=1),
        batch: int = 64,
        concurrency: int = 16,
        together: int = 16,
        give_way: GiveWay | None = None,
    ) -> None:
        self._queue = queue
        self._handlers = handlers
        self._batch_handlers = batch_handlers if batch_handlers is not None else {}
        self._clock = clock
        self._lease = lease
        self._batch = batch
        # A batch is one transaction (its messages read from the platform together); an ack
        # waiting for the database makes it commit what it has filed and let the ack through.
        self._together = together
        self._give_way = give_way  # to acks arriving in a burst: Slack waits for those
        super().__init__()
        self._slots = asyncio.Semaphore(concurrency)
        self._caught_up = asyncio.Event()
        self._caught_up.set()
        self.processed = 0

    async def caught_up(self, patience: float) -> None:
        """Wait while a backlog of flags waits to be filed (more than one round's worth), at
        most `patience` seconds. Returns at once when no loop is running to file them."""
        if self.running:
            await wait_for_event(self._caught_up, patience)

    async def drain(self) -> int:
        """Process everything waiting now; returns how many items were processed."""
        done = 0
        try:
            while True:
                if self._give_way is not None:
                    await self._give_way()
                items = await self._queue.claim_inbox(self._clock.now(), self._lease, self._batch)
                if len(items) < self._batch:
                    self._caught_up.set()  # what is left is this round
                else:
                    self._caught_up.clear()  # more wait behind these: a backlog
                if not items:
                    return done
                finished = await self._process_all(items)
                await self._queue.finish_inbox(finished, self._clock.now())
                done += len(finished)
                if len(finished) < len(items):
                    return done  # failures wait for their lease to expire
                if len(items) < self._batch:
                    return done  # all caught up; a flag accepted meanwhile woke the loop again
        finally:
            self._caught_up.set()  # nothing more is filed before the next round

    async def _process_all(self, items: list[InboxItem]) -> list[int]:
        """Process claimed items, a kind's items together when it has a batch handler (one
        transaction for many under load); returns the ids processed."""
        kinds: dict[str, list[InboxItem]] = {}
        for item in items:
            kinds.setdefault(item.kind, []).append(item)
        single: list[InboxItem] = []
        finished: list[int] = []
        for kind, of_kind in kinds.items():
            batch = self._batch_handlers.get(kind)
            if batch is None or len(of_kind) == 1:
                single += of_kind
                continue
            for start in range(0, len(of_kind), self._together):
                group = of_kind[start : start + self._together]
                try:
                    await batch(group)
                except Exception:
                    log.warning("a batch of %s %s items failed; one by one", len(group), kind)
                    single += group
                else:
                    finished += [item.id for item in group if item.id is not None]
                    self.processed += len(group)
        results = await asyncio.gather(*(self._process(item) for item in single))
        finished += [item.id for item, ok in zip(single, results, strict=True) if ok and item.id]
        return finished

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
