"""Composition root: the one place that wires the core, the edges and storage together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry, Gauge

from bot.app.startup_errors import StartupError
from bot.config.routing import Routing
from bot.config.settings import Settings
from bot.core.background import Background
from bot.core.clock import SystemClock
from bot.core.escalation import TimerService
from bot.core.fanout import FanOutNotices
from bot.core.fill_in import OutputFiller
from bot.core.inbox import BatchHandler as InboxBatchHandler
from bot.core.inbox import DeadLetterNotice, InboxWorker
from bot.core.inbox import Handler as InboxHandler
from bot.core.intake import IntakeService
from bot.core.outbox import OutboxDispatcher, Sender
from bot.core.ports import Clock, Notices
from bot.core.triage import TriageService
from bot.core.woken import Arrivals, GiveWay
from digests.job import DigestJob, Publisher
from handlers.api import reports_route
from handlers.api_openapi import openapi_route
from handlers.api_volume import volume_route
from handlers.http import Routes, build_http_app
from handlers.metrics import PrometheusEvents, health_gauges, process_metrics
from handlers.slack.app import build_bolt_app, build_web_client, events_route
from handlers.slack.digest import publish_to_slack
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import learn_identity
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
from handlers.slack.queued import SLACK_REPORT, flag_queue
from handlers.slack.reread import SLACK_REREAD, Reread
from handlers.slack.sender import SlackSender
from handlers.slack.socket_mode import SocketMode, build_socket_mode
from handlers.slack.triage import SlackTriage
from handlers.slack.unfiled import unfiled_reaction_notice, unfiled_report_notice
from handlers.status import StatusSources, status_route
from storage.database import create_engine
from storage.digest_reads import digest_reads
from storage.faults import is_transient
from storage.health import SqlHealth
from storage.migrate import is_up_to_date
from storage.queues import SqlQueues
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
    background: Background = field(default_factory=Background)  # work after an ack
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _rounds: set[asyncio.Task[object]] = field(default_factory=set)
    _scheduler: AsyncIOScheduler | None = None
    socket_mode: SocketMode | None = None

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

    async def _prune(self) -> None:
        # Loop closure no longer needs delivered messages (reporters told are recorded on
        # delivery); KEEP_DELIVERED only bounds how long platform retries and sends are remembered.
        with self._round():
            try:
                await self.store.prune(self.clock.now() - KEEP_DELIVERED)
            except Exception:
                log.exception("pruning old delivery records failed; retrying in an hour")

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


async def build_runtime(
    settings: Settings, routing: Routing, *, clock: Clock | None = None
) -> Runtime:
    clock = clock or SystemClock()
    store = SqlCaseStore(create_engine(settings.database_url), clock=clock)
    registry = CollectorRegistry()
    events = PrometheusEvents(registry)
    process_metrics(registry)
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
        routing, store, clock, on_enqueued, notices=announced, directory=routed_by, events=events
    )
    triage = TriageService(routing, store, clock, notices, on_enqueued, events=events)
    timers = TimerService(
        routing,
        store,
        store,
        clock,
        notices,
        on_enqueued,
        reach=teams.escalation_reach(directory) if teams is not None else directory,
        reached_in="Slack" if client is not None else "Teams",
        events=events,
    )
    routes = Routes(readiness=lambda: runtime.readiness(), registry=registry)
    queues, health = SqlQueues(store.engine), SqlHealth(store.engine)
    status = StatusSources(clock, clock.now(), store.ping, queues.counts, health.read)
    routes.status = status_route(status)
    bolt_app = None
    socket_mode = None
    publishers: list[Publisher] = []
    inbox_handlers: dict[str, InboxHandler] = {}
    batch_handlers: dict[str, InboxBatchHandler] = {}
    unfiled_notices: dict[str, DeadLetterNotice] = {}
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
        dead_letter_notices=unfiled_notices,
        on_enqueued=on_enqueued,
    )
    background = Background()
    if client is not None and directory is not None:
        publishers.append(publish_to_slack)
        permalinks = Permalinks(client)  # one auth.test per process
        messenger = CaseMessenger(routing, store, client, directory, permalinks)
        senders["slack"] = SlackSender(client, messenger)
        queue = flag_queue(store, clock, inbox.wake, arrivals)
        slack_intake = SlackIntake(
            routing, intake, store, clock, directory, permalinks, background=background, queue=queue
        )
        slack_triage = SlackTriage(routing, triage, store, directory, background=background)
        bolt_app = build_bolt_app(client, slack_intake, slack_triage, is_transient=is_transient)
        # Before the first request, so no user's request waits for it.
        try:
            status.slack_auth = await learn_identity(client, bolt_app, permalinks)
        except StartupError:  # a refused token: close what was opened, or aiohttp complains
            await session.close()
            if teams is not None:
                teams.close()
            await store.close()
            raise
        # A flagged message Slack would not give at filing time is read again later.
        filler = OutputFiller(routing, store, clock, announced, on_enqueued)
        reread = Reread(store, client, permalinks, filler, clock, inbox.wake)
        inbox_handlers[SLACK_REACTION] = reaction_handler(slack_intake, client, reread)
        batch_handlers[SLACK_REACTION] = reactions_handler(slack_intake, client, reread)
        inbox_handlers[SLACK_REREAD] = reread.handle
        inbox_handlers[SLACK_REPORT] = slack_intake.queued_flags(client)
        unfiled_notices[SLACK_REACTION] = unfiled_reaction_notice
        unfiled_notices[SLACK_REPORT] = unfiled_report_notice
        if settings.slack_signing_secret is not None:
            routes.slack_events = events_route(
                bolt_app,
                settings.slack_signing_secret.get_secret_value(),
                clock,
                accept_reaction=reaction_acceptor(slack_intake, store, clock, inbox.wake, arrivals),
                is_transient=is_transient,
            )
        if settings.slack_app_token is not None:  # its own bolt app: it answers over the socket
            socket_app = build_bolt_app(
                client, slack_intake, slack_triage, is_transient=is_transient
            )
            await learn_identity(client, socket_app, permalinks)
            socket_mode = build_socket_mode(
                socket_app,
                settings.slack_app_token.get_secret_value(),
                is_transient=is_transient,
                accept_reaction=reaction_acceptor(slack_intake, store, clock, inbox.wake, arrivals),
            )
    if teams is not None:
        status.teams_mode = "emulator" if settings.teams_emulator_mode else "bot_framework"
        routes.teams_messages = teams.route(intake, triage, on_enqueued, is_transient=is_transient)
        senders["teams"] = teams.sender
        publishers.append(teams.publisher)
    if settings.ingest_token is not None:
        token = settings.ingest_token.get_secret_value()
        routes.ingest_reports = reports_route(
            token,
            routing,
            intake,
            clock,
            is_transient=is_transient,
        )
        routes.ingest_openapi = openapi_route(routing)
        routes.ingest_volume = volume_route(token, routing, store, clock, is_transient=is_transient)
    # Under a burst: acks first (Slack waits for them), then filing, then delivery.
    delivery_gives_way = GiveWay(arrivals.calm, inbox.caught_up, patience=OUTBOX_PATIENCE_SECONDS)
    dispatcher = OutboxDispatcher(
        store, senders, clock, batch=8, give_way=delivery_gives_way, events=events, receipts=store
    )
    wake.append(dispatcher.wake)
    refreshes = (
        _queue_metrics(registry, queues, inbox, dispatcher),
        health_gauges(registry, health.read, clock),
    )
    routes.refresh_metrics = lambda: _all(refreshes)
    runtime = Runtime(
        settings=settings,
        routing=routing,
        clock=clock,
        store=store,
        intake=intake,
        triage=triage,
        timers=timers,
        digests=DigestJob(
            routing, store, clock, publishers, on_enqueued, events=events, reads=digest_reads(store)
        ),
        inbox=inbox,
        dispatcher=dispatcher,
        web_app=build_http_app(routes),
        registry=registry,
        session=session,
        bolt_app=bolt_app,
        teams=teams,
        socket_mode=socket_mode,
        background=background,
    )
    return runtime


async def _all(refreshes: tuple[Callable[[], Awaitable[None]], ...]) -> None:
    for refresh in refreshes:
        await refresh()


def _queue_metrics(
    registry: CollectorRegistry,
    queues: SqlQueues,
    inbox: InboxWorker,
    dispatcher: OutboxDispatcher,
) -> Callable[[], Awaitable[None]]:
    """Gauges of what waits and what is dead-lettered in the inbox and outbox (all processes:
    read from the database at each scrape, by the refresh returned), and of this process's
    failed attempts and dead letters."""
    sizes = {
        (queue, state): Gauge(
            f"loopkeeper_{queue}_{state}",
            f"{queue.capitalize()} items {what}, in the database",
            registry=registry,
        )
        for queue in ("inbox", "outbox")
        for state, what in (("pending", "still tried"), ("dead", "dead-lettered"))
    }
    for name, help_text, read in (
        ("inbox_failures", "Failed attempts at filing an inbox item", lambda: inbox.failures),
        ("inbox_dead_lettered", "Inbox items dead-lettered", lambda: inbox.dead_lettered),
        ("outbox_failures", "Failed outbox deliveries", lambda: dispatcher.failures),
        ("outbox_dead_lettered", "Outbox messages dead-lettered", lambda: dispatcher.dead_lettered),
    ):
        Gauge(f"loopkeeper_{name}", f"{help_text} by this process", registry=registry).set_function(
            read
        )

    async def refresh() -> None:
        counts = await queues.counts()
        sizes[("inbox", "pending")].set(counts.inbox_pending)
        sizes[("inbox", "dead")].set(counts.inbox_dead)
        sizes[("outbox", "pending")].set(counts.outbox_pending)
        sizes[("outbox", "dead")].set(counts.outbox_dead)

    return refresh
