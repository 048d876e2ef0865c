"""A running bot: what `build_runtime` (bot/app/main.py) wired, and the loops it runs.

The outbox and inbox loops, and an APScheduler ticker for timers, digests and pruning, start
with `start_background`; `close` lets the rounds in flight finish, then closes what was opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry

from bot.config.settings import Settings
from bot.core.background import Background
from bot.core.burst_priorities import BurstPriorities
from bot.core.escalation import TimerService
from bot.core.inbox import InboxWorker
from bot.core.intake import IntakeService
from bot.core.outbox import OutboxDispatcher
from bot.core.ports import Clock
from bot.core.routing_rules import Routing
from bot.core.triage import TriageService
from digests.job import DigestJob
from handlers.slack.socket_mode import SocketMode
from storage.migrate import is_up_to_date
from storage.repository import SqlCaseStore

log = logging.getLogger(__name__)

DIGEST_TICK_SECONDS = 30
KEEP_DELIVERED = timedelta(weeks=5)
"""How long delivered messages are kept: platform retries and sends are remembered this long
(loop closure reads reporters-told receipts, not these rows)."""
KEEP_SURGES = timedelta(weeks=5)
"""How long an ended surge is kept: the digest lists the surges first seen in its week, and
`loopkeeper digest --week` of any of the last four weeks (and last week against the one
before) still finds them."""
ROUND_GRACE_SECONDS = 10.0
"""How long closing waits for a timer, digest or prune round in flight before cancelling it."""


@dataclass
class Runtime:
    """Everything one bot process runs, built by `build_runtime`, closed by `close`."""

    settings: Settings
    routing: Routing
    clock: Clock
    store: SqlCaseStore
    intake: IntakeService
    triage: TriageService
    timers: TimerService
    digests: DigestJob
    inbox: InboxWorker
    dispatcher: OutboxDispatcher
    web_app: web.Application
    registry: CollectorRegistry
    session: aiohttp.ClientSession
    bolt_app: Any = None
    teams: Any = None  # handlers.teams.wiring.TeamsEdge when Teams is on
    background: Background = field(default_factory=Background)  # work after an ack
    priorities: BurstPriorities = field(default_factory=BurstPriorities)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _rounds: set[asyncio.Task[object]] = field(default_factory=set)
    _scheduler: AsyncIOScheduler | None = None
    socket_mode: SocketMode | None = None
    webhooks: OutboxDispatcher | None = None  # webhook deliveries, apart from chat messages

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await self.store.ping()
            checks["database"] = "ok"
        except Exception as error:  # readiness reports, it does not crash
            checks["database"] = f"unreachable: {type(error).__name__}"
            checks["migrations"] = "unknown"
            return checks
        current = await is_up_to_date(self.store.engine)
        checks["migrations"] = "ok" if current else "pending: run `loopkeeper db upgrade`"
        return checks

    async def start_background(self) -> None:
        """Outbox delivery, its APScheduler ticker and Slack Socket Mode, if configured."""
        tick = self.settings.tick_seconds
        # Under load, a short wait when woken lets a burst be drained in rounds of several
        # items (one claim, one transaction) rather than one round per item.
        settle, timer = self.priorities.patience.settle, self.priorities.timer
        self._tasks.append(asyncio.create_task(self.dispatcher.run(tick * 5, settle, timer)))
        self._tasks.append(asyncio.create_task(self.inbox.run(tick * 5, settle, timer)))
        scheduler = AsyncIOScheduler()
        scheduler.add_job(self.dispatcher.wake, "interval", seconds=tick, coalesce=True)
        if self.webhooks is not None:
            self._tasks.append(asyncio.create_task(self.webhooks.run(tick * 5, settle, timer)))
            scheduler.add_job(self.webhooks.wake, "interval", seconds=tick, coalesce=True)
        # The ticker only says "look now"; what is due lives in the timers table.
        scheduler.add_job(
            self._fire_timers, "interval", seconds=tick, coalesce=True, max_instances=1
        )
        scheduler.add_job(
            self._post_digests,
            "interval",
            seconds=max(tick, DIGEST_TICK_SECONDS),
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(self._pruning, "interval", hours=1, coalesce=True, max_instances=1)
        scheduler.start()
        self._scheduler = scheduler
        if self.socket_mode is not None:
            await self.socket_mode.connect()

    @contextlib.contextmanager
    def _round(self) -> Iterator[None]:
        """A scheduled round in flight: close() lets it finish before the database goes."""
        task = asyncio.current_task()
        assert task is not None
        self._rounds.add(task)
        try:
            yield
        finally:
            self._rounds.discard(task)

    async def _fire_timers(self) -> None:
        with self._round():
            try:
                await self.timers.fire_due()
            except Exception:
                log.exception("firing timers failed; retrying on the next tick")

    async def _post_digests(self) -> None:
        with self._round():
            try:
                await self.digests.tick()
            except Exception:
                log.exception("digest tick failed; retrying on the next tick")

    async def _pruning(self) -> None:
        with self._round():
            try:
                await self.prune()
            except Exception:
                log.exception("pruning old delivery records failed; retrying in an hour")

    async def prune(self) -> None:
        """Forget what is done with (hourly): deliveries, dead letters kept for
        LOOPKEEPER_DEAD_LETTER_DAYS, surges the digest no longer reads."""
        now = self.clock.now()
        await self.store.prune(now - KEEP_DELIVERED)
        days = self.settings.dead_letter_days
        dead = await self.store.prune_dead(now - timedelta(days=days))
        if dead.outbox or dead.inbox:  # dead letters are the operator's to retry: say so
            log.warning(
                "deleted %d outbox message(s) and %d inbox item(s) dead-lettered more than %d "
                "day(s) ago (LOOPKEEPER_DEAD_LETTER_DAYS)",
                dead.outbox,
                dead.inbox,
                days,
            )
        await self.store.prune_surges(now - KEEP_SURGES)

    async def close(self) -> None:
        if self.socket_mode is not None:
            await self.socket_mode.close()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)  # no new rounds; the running ones finish
        if self._rounds:
            _done, running = await asyncio.wait(set(self._rounds), timeout=ROUND_GRACE_SECONDS)
            for task in running:  # their leases expire and another process takes the work
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        await self.background.close(ROUND_GRACE_SECONDS)  # answered requests' remaining work
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.session.close()
        if self.teams is not None:
            self.teams.close()
        await self.store.close()
