"""Composition root: the one place that wires the core, the edges and storage together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry, Gauge

from bot.clock import SystemClock
from bot.escalation import TimerService
from bot.fanout import FanOutNotices
from bot.inbox import BatchHandler as InboxBatchHandler
from bot.inbox import Handler as InboxHandler
from bot.inbox import InboxWorker
from bot.intake import IntakeService
from bot.outbox import OutboxDispatcher, Sender
from bot.ports import Clock, Notices
from bot.routing import Routing
from bot.settings import Settings
from bot.triage import TriageService
from bot.woken import Arrivals, GiveWay
from digests.job import DigestJob, Publisher
from handlers.api import reports_route
from handlers.api_openapi import openapi_route
from handlers.http import Routes, build_http_app
from handlers.slack.app import build_bolt_app, build_web_client, events_route
from handlers.slack.digest import publish_to_slack
from handlers.slack.directory import SlackDirectory
from handlers.slack.inbox import (
    SLACK_REACTION,
    reaction_acceptor,
    reaction_handler,
    reactions_handler,
)
from handlers.slack.listeners import SlackIntake
from handlers.slack.messenger import CaseMessenger
from handlers.slack.notices import SlackNotices
from handlers.slack.permalink import Permalinks
from handlers.slack.sender import SlackSender
from handlers.slack.triage import SlackTriage
from storage.database import create_engine
from storage.faults import is_transient
from storage.migrate import is_up_to_date
from storage.repository import SqlCaseStore

log = logging.getLogger(__name__)

DIGEST_TICK_SECONDS = 30
KEEP_DELIVERED = timedelta(weeks=5)
ROUND_GRACE_SECONDS = 10.0
"""How long closing waits for a timer, digest or prune round in flight before cancelling it."""
SETTLE_SECONDS = 0.01
"""While busy, how long the outbox and inbox loops let work gather before a round."""
OUTBOX_PATIENCE_SECONDS = 2.0
"""How long a round of outbox delivery may wait for a backlog of flags to be filed first."""
FILING_PATIENCE_SECONDS = 1.0
"""How long a round of filing may wait for a burst of acks to be answered first."""


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
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _rounds: set[asyncio.Task[object]] = field(default_factory=set)
    _scheduler: AsyncIOScheduler | None = None
    _socket_handler: Any = None

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
        self._tasks.append(asyncio.create_task(self.dispatcher.run(tick * 5, SETTLE_SECONDS)))
        self._tasks.append(asyncio.create_task(self.inbox.run(tick * 5, SETTLE_SECONDS)))
        scheduler = AsyncIOScheduler()
        scheduler.add_job(self.dispatcher.wake, "interval", seconds=tick, coalesce=True)
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
        scheduler.add_job(self._prune, "interval", hours=1, coalesce=True, max_instances=1)
        scheduler.start()
        self._scheduler = scheduler
        if self.settings.slack_socket_mode and self.bolt_app is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert self.settings.slack_app_token is not None
            self._socket_handler = AsyncSocketModeHandler(
                self.bolt_app, self.settings.slack_app_token.get_secret_value()
            )
            await self._socket_handler.connect_async()

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

    async def _prune(self) -> None:
        # The digest counts delivered outcome messages for loop closure: keep them five weeks.
        with self._round():
            try:
                await self.store.prune(self.clock.now() - KEEP_DELIVERED)
            except Exception:
                log.exception("pruning old delivery records failed; retrying in an hour")

    async def close(self) -> None:
        if self._socket_handler is not None:
            await self._socket_handler.close_async()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)  # no new rounds; the running ones finish
        if self._rounds:
            _done, running = await asyncio.wait(set(self._rounds), timeout=ROUND_GRACE_SECONDS)
            for task in running:  # their leases expire and another process takes the work
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.session.close()
        if self.teams is not None:
            self.teams.close()
        await self.store.close()


async def build_runtime(
    settings: Settings, routing: Routing, *, clock: Clock | None = None
) -> Runtime:
    clock = clock or SystemClock()
    store = SqlCaseStore(create_engine(settings.database_url), clock=clock)
    registry = CollectorRegistry()
    session = aiohttp.ClientSession()
    senders: dict[str, Sender] = {}
    wake: list[Callable[[], None]] = []

    def on_enqueued() -> None:
        for callback in wake:
            callback()

    slack_notices = SlackNotices(clock)
    notices: Notices = slack_notices
    directory = None
    client = None
    if settings.slack_enabled:
        assert settings.slack_bot_token is not None
        client = build_web_client(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url, session
        )
        directory = SlackDirectory(routing, store, client, clock)
    teams = None
    if settings.teams_enabled:  # botbuilder is imported only when Teams is on
        from handlers.teams.wiring import build_teams_edge

        teams = build_teams_edge(settings, routing, store, clock, slack_enabled=client is not None)
        notices = FanOutNotices([slack_notices, teams.notices]) if client else teams.notices
    announced = notices if client is not None or teams is not None else None
    routed_by = teams.reachability(directory) if teams is not None else directory
    intake = IntakeService(
        routing, store, clock, on_enqueued, notices=announced, directory=routed_by
    )
    triage = TriageService(routing, store, clock, notices, on_enqueued)
    timers = TimerService(routing, store, store, clock, notices, on_enqueued)
    routes = Routes(readiness=lambda: runtime.readiness(), registry=registry)
    bolt_app = None
    publishers: list[Publisher] = []
    inbox_handlers: dict[str, InboxHandler] = {}
    batch_handlers: dict[str, InboxBatchHandler] = {}
    # On SQLite filing is cheap and there is one writer: large batches. On PostgreSQL, where
    # replicas file side by side, smaller ones hold their cases' row locks for less long.
    sqlite = store.engine.dialect.name == "sqlite"
    arrivals = Arrivals()  # acks in progress
    inbox = InboxWorker(
        store,
        inbox_handlers,
        clock,
        batch_handlers=batch_handlers,
        concurrency=2 if sqlite else 16,
        together=64 if sqlite else 16,
        give_way=GiveWay(arrivals.calm, patience=FILING_PATIENCE_SECONDS),
    )
    if client is not None and directory is not None:
        publishers.append(publish_to_slack)
        permalinks = Permalinks(client)  # one auth.test per process
        messenger = CaseMessenger(routing, store, client, directory, permalinks)
        senders["slack"] = SlackSender(client, messenger)
        slack_intake = SlackIntake(routing, intake, store, clock, directory, permalinks)
        bolt_app = build_bolt_app(
            client, slack_intake, SlackTriage(routing, triage, store, directory)
        )
        inbox_handlers[SLACK_REACTION] = reaction_handler(slack_intake, client)
        batch_handlers[SLACK_REACTION] = reactions_handler(slack_intake, client)
        if settings.slack_signing_secret is not None:
            routes.slack_events = events_route(
                bolt_app,
                settings.slack_signing_secret.get_secret_value(),
                clock,
                accept_reaction=reaction_acceptor(slack_intake, store, clock, inbox.wake, arrivals),
            )
    if teams is not None:
        routes.teams_messages = teams.route(intake, triage, on_enqueued, is_transient=is_transient)
        senders["teams"] = teams.sender
        publishers.append(teams.publisher)
    if settings.ingest_token is not None:
        routes.ingest_reports = reports_route(
            settings.ingest_token.get_secret_value(),
            routing,
            intake,
            clock,
            is_transient=is_transient,
        )
        routes.ingest_openapi = openapi_route(routing)
    # Under a burst: acks first (Slack waits for them), then filing, then delivery.
    delivery_gives_way = GiveWay(arrivals.calm, inbox.caught_up, patience=OUTBOX_PATIENCE_SECONDS)
    dispatcher = OutboxDispatcher(store, senders, clock, batch=8, give_way=delivery_gives_way)
    wake.append(dispatcher.wake)
    Gauge(
        "loopkeeper_outbox_delivered",
        "Outbound messages delivered by this process",
        registry=registry,
    ).set_function(lambda: dispatcher.delivered)
    Gauge(
        "loopkeeper_timers_fired",
        "Escalation and SLA timers fired by this process",
        registry=registry,
    ).set_function(lambda: timers.fired)
    runtime = Runtime(
        settings=settings,
        routing=routing,
        clock=clock,
        store=store,
        intake=intake,
        triage=triage,
        timers=timers,
        digests=DigestJob(routing, store, clock, publishers, on_enqueued),
        inbox=inbox,
        dispatcher=dispatcher,
        web_app=build_http_app(routes),
        registry=registry,
        session=session,
        bolt_app=bolt_app,
        teams=teams,
    )
    return runtime
