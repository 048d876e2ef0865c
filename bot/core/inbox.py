"""Working off the inbox: raw flags committed at the edge become reports here, in order."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.burst_priorities import FilingBacklog, GiveWay
from bot.core.drain_loop import DrainLoop
from bot.core.log_context import bound
from bot.core.models import InboxItem, OutboundMessage
from bot.core.outbox import one_line
from bot.core.ports import Clock

log = logging.getLogger(__name__)

MAX_WAIT = timedelta(minutes=30)
MAX_ATTEMPTS = 8
"""Attempts at an item before it is dead-lettered. The waits between them double from the
lease (a minute) to MAX_WAIT: 1, 2, 4, 8, 16, 30, 30 minutes, an hour and a half in all, which
outlasts a rate limit on reading messages (Slack allows some apps one history call a minute).
Filing a flag does not fail when its message cannot be read (it is filed without it), so a
filing that fails eight times will fail the ninth: a malformed item, or a bug. A malformed
item (its own data is invalid: a ValueError, pydantic's included) is dead-lettered at once."""

Handler = Callable[[InboxItem], Awaitable[None]]
BatchHandler = Callable[[list[InboxItem]], Awaitable[None]]
"""Handles several items of one kind at once, all or none (raises if any failed)."""
DeadLetterNotice = Callable[[InboxItem, str, datetime], Sequence[OutboundMessage]]
"""The messages telling an item's reporter it could not be filed (item, why, when)."""


class InboxQueue(Protocol):
    async def claim_inbox(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[InboxItem]: ...

    async def finish_inbox(
        self, item_ids: list[int], at: datetime, error: str | None = None
    ) -> None: ...

    async def retry_inbox_later(self, item_id: int, error: str, at: datetime) -> None:
        """Record why filing failed; the item is claimed again from `at`."""
        ...

    async def bury_inbox(
        self, item_id: int, error: str, at: datetime, notices: Sequence[OutboundMessage]
    ) -> None:
        """Dead-letter the item and queue `notices`, in one transaction."""
        ...


class _Outcome(enum.Enum):
    filed = "filed"
    retry = "retry"
    dead = "dead"


class Inbox(Protocol):
    async def accept(self, key: str, kind: str, payload: dict[str, Any], at: datetime) -> bool:
        """Commit a raw inbound flag before it is acknowledged; False if `key` was seen."""
        ...


class InboxWorker(DrainLoop):
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
        backlog: FilingBacklog | None = None,
        dead_letter_notices: Mapping[str, DeadLetterNotice] | None = None,
        on_enqueued: Callable[[], None] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._queue = queue
        self._handlers = handlers
        # Per kind: how its reporter hears that their flag could not be filed.
        self._notices = dead_letter_notices if dead_letter_notices is not None else {}
        self._on_enqueued = on_enqueued
        self._max_attempts = max_attempts
        self._batch_handlers = batch_handlers if batch_handlers is not None else {}
        self._clock = clock
        self._lease = lease
        self._batch = batch
        # A batch is one transaction (its messages read from the platform together); an ack
        # waiting for the database makes it commit what it has filed and let the ack through.
        self._together = together
        self._give_way = give_way  # to acks arriving in a burst: Slack waits for those
        self._backlog = backlog  # told while flags wait beyond this round: delivery waits
        super().__init__()
        self._slots = asyncio.Semaphore(concurrency)
        self.processed = 0
        self.failures = 0  # failed attempts, by this process
        self.dead_lettered = 0  # items given up on, by this process

    async def drain(self) -> int:
        """Process everything waiting now; returns how many items were processed."""
        done = 0
        try:
            while True:
                if self._give_way is not None:
                    await self._give_way()
                items = await self._queue.claim_inbox(self._clock.now(), self._lease, self._batch)
                if len(items) < self._batch:
                    self._caught_up()  # what is left is this round
                elif self.running and self._backlog is not None:
                    self._backlog.behind()  # more wait behind these: a backlog
                if not items:
                    return done
                finished, retrying = await self._process_all(items)
                await self._queue.finish_inbox(finished, self._clock.now())
                done += len(finished)
                if retrying:
                    return done  # failures wait for their retry time
                if len(items) < self._batch:
                    return done  # all caught up; a flag accepted meanwhile woke the loop again
        finally:
            self._caught_up()  # nothing more is filed before the next round

    def _caught_up(self) -> None:
        if self._backlog is not None:
            self._backlog.caught_up()

    async def _process_all(self, items: list[InboxItem]) -> tuple[list[int], int]:
        """Process claimed items, a kind's items together when it has a batch handler (one
        transaction for many under load); returns the ids processed and how many failed and
        will be retried."""
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
        pairs = zip(single, results, strict=True)
        finished += [item.id for item, outcome in pairs if outcome is _Outcome.filed]
        return finished, sum(1 for outcome in results if outcome is _Outcome.retry)

    async def _process(self, item: InboxItem) -> _Outcome:
        platform, _, _ = item.kind.partition(".")  # kinds are "<platform>.<what>"
        with bound(platform=platform, event_id=item.payload.get("event_id")):
            return await self._process_one(item)

    async def _process_one(self, item: InboxItem) -> _Outcome:
        handler = self._handlers.get(item.kind)
        if handler is None:
            # Its platform is off here: another replica may file it, else it ends a dead
            # letter that can be filed again once the platform is back.
            missing = LookupError(f"no handler for inbox items of kind '{item.kind}'")
            return await self._failed(item, missing)
        async with self._slots:
            try:
                await handler(item)
            except Exception as error:
                return await self._failed(item, error)
        self.processed += 1
        return _Outcome.filed

    async def _failed(self, item: InboxItem, error: Exception) -> _Outcome:
        """Retry later, or give up when retrying cannot help or was tried enough."""
        self.failures += 1
        reason = one_line(f"{type(error).__name__}: {error}")
        if isinstance(error, ValueError):
            await self._bury(item, f"invalid: {reason}")
            return _Outcome.dead
        if item.attempts >= self._max_attempts:
            await self._bury(item, f"failed {item.attempts} times: {reason}")
            return _Outcome.dead
        # One line: a traceback on every attempt of a poison item would bury the log.
        log.warning(
            "inbox item %s (%s) failed, attempt %s of %s: %s",
            item.id,
            item.kind,
            item.attempts,
            self._max_attempts,
            reason,
        )
        log.debug("inbox item %s raised", item.id, exc_info=error)
        wait = min(self._lease * 2 ** min(max(item.attempts - 1, 0), 10), MAX_WAIT)
        await self._queue.retry_inbox_later(item.id, reason, self._clock.now() + wait)
        return _Outcome.retry

    async def _bury(self, item: InboxItem, reason: str) -> None:
        """Dead-letter the item, telling its reporter (through the outbox) at the same time."""
        now = self._clock.now()
        notice = self._notices.get(item.kind)
        messages = list(notice(item, reason, now)) if notice is not None else []
        log.warning(
            "inbox item %s (%s) dead-lettered after %s attempts, %s: %s",
            item.id,
            item.kind,
            item.attempts,
            "reporter told" if messages else "reporter not told (unknown)",
            reason,
        )
        await self._queue.bury_inbox(item.id, reason, now, messages)
        self.dead_lettered += 1
        if messages and self._on_enqueued is not None:
            self._on_enqueued()
