"""Composition root: the one place that wires the core, the edges and storage together.

`build_runtime` builds the store, the platforms (Slack in bot/app/wire_slack.py, Teams in
handlers/teams/wiring.py), the core services, the HTTP app and the loops, and returns the
`Runtime` (bot/app/runtime.py) that runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
from prometheus_client import CollectorRegistry

from bot.app.heap import heap_metrics
from bot.app.pacing import outbox_pacing
from bot.app.queue_metrics import queue_metrics, refresh_all
from bot.app.runtime import Runtime
from bot.app.webhooks import chat_platforms, removed_webhooks, webhook_dispatcher
from bot.app.wire_slack import wire_slack
from bot.config.settings import Settings
from bot.core.background import Background
from bot.core.burst_priorities import BurstPriorities
from bot.core.clock import SystemClock
from bot.core.escalation import TimerService
from bot.core.fanout import FanOutNotices
from bot.core.inbox import BatchHandler as InboxBatchHandler
from bot.core.inbox import DeadLetterNotice, InboxWorker
from bot.core.inbox import Handler as InboxHandler
from bot.core.intake import IntakeService
from bot.core.outbox import OutboxDispatcher, Sender
from bot.core.ports import Clock, Notices
from bot.core.routing_rules import Routing
from bot.core.startup_errors import StartupError
from bot.core.triage import TriageService
from digests.chart_links import ChartLinks
from digests.job import DigestJob
from digests.publisher import Publisher
from digests.themes.section import WeekThemes
from handlers.api import reports_route
from handlers.api_openapi import openapi_route
from handlers.api_volume import volume_route
from handlers.charts import chart_route
from handlers.http import Routes, build_http_app
from handlers.metrics import PrometheusEvents, health_gauges, process_metrics
from handlers.slack.app import build_web_client
from handlers.slack.confirm import confirmation
from handlers.slack.digest import publish_to_slack
from handlers.slack.directory import SlackDirectory
from handlers.slack.notices import SlackNotices
from handlers.status import StatusSources, status_route
from storage.chart_images import SqlChartImages
from storage.database import create_engine
from storage.digest_reads import digest_reads
from storage.faults import is_transient
from storage.health import SqlHealth
from storage.queues import SqlQueues
from storage.repository import SqlCaseStore
from storage.theme_texts import SqlThemeTexts

log = logging.getLogger(__name__)


async def build_runtime(
    settings: Settings, routing: Routing, *, clock: Clock | None = None
) -> Runtime:
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url, sqlite_fast=settings.sqlite_fast_paths)
    store = SqlCaseStore(engine, clock=clock)
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
    charts = SqlChartImages(engine)
    routes.charts = chart_route(charts, clock)  # any replica serves the charts any other kept
    bolt_app = None
    socket_mode = None
    publishers: list[Publisher] = []
    inbox_handlers: dict[str, InboxHandler] = {}
    batch_handlers: dict[str, InboxBatchHandler] = {}
    unfiled_notices: dict[str, DeadLetterNotice] = {}
    # Flags are filed set-based, a statement per table for a batch, so batches are large on
    # both stores: on SQLite the store commits between small chunks when an ack waits
    # (storage/batches.py); on PostgreSQL a batch of 64 holds its row locks for a few
    # statements.
    sqlite = store.engine.dialect.name == "sqlite"
    priorities = BurstPriorities()  # under a burst: acks, then filing, then delivery
    inbox = InboxWorker(
        store,
        inbox_handlers,
        clock,
        batch_handlers=batch_handlers,
        concurrency=2 if sqlite else 16,
        together=64,
        give_way=priorities.filing_gives_way(),
        backlog=priorities.filing_backlog,
        dead_letter_notices=unfiled_notices,
        on_enqueued=on_enqueued,
    )
    background = Background()
    if client is not None and directory is not None:
        try:
            slack = await wire_slack(
                settings,
                routing,
                store,
                clock,
                client,
                directory,
                intake=intake,
                triage=triage,
                inbox=inbox,
                acks=priorities.acks,
                background=background,
                announced=announced,
                on_enqueued=on_enqueued,
            )
        except StartupError:  # a refused token: close what was opened, or aiohttp complains
            await session.close()
            if teams is not None:
                teams.close()
            await store.close()
            raise
        publishers.append(publish_to_slack)
        senders["slack"] = slack.sender
        status.slack_auth = slack.authenticated
        inbox_handlers.update(slack.inbox_handlers)
        batch_handlers.update(slack.batch_handlers)
        unfiled_notices.update(slack.dead_letter_notices)
        routes.slack_events = slack.events_route
        bolt_app, socket_mode = slack.bolt_app, slack.socket_mode
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
            confirm_in_slack=confirmation,
        )
        routes.ingest_volume = volume_route(token, routing, store, clock, is_transient=is_transient)
        routes.ingest_openapi = openapi_route(routing)
    dispatcher = OutboxDispatcher(
        store,
        senders | removed_webhooks(routing),
        clock,
        # A batch's claim, reads and marks are one statement each whatever its size: 32 meets
        # the 0.5 commits per flag where 8 gave 1.1 (README: Benchmarks).
        batch=32,
        give_way=priorities.delivery_gives_way(),
        events=events,
        platforms=chat_platforms(routing),
        receipts=store,
        pacing=outbox_pacing(settings, routing, store),
    )
    wake.append(dispatcher.wake)
    webhooks = webhook_dispatcher(
        routing,
        store,
        clock,
        session,
        give_way=priorities.delivery_gives_way(),
        events=events,
    )
    if webhooks is not None:
        wake.append(webhooks.wake)
    heap_metrics(registry)
    refreshes = (
        queue_metrics(registry, queues, inbox, dispatcher, webhooks),
        health_gauges(registry, health.read, clock),
    )
    routes.refresh_metrics = lambda: refresh_all(refreshes)
    runtime = Runtime(
        settings=settings,
        routing=routing,
        clock=clock,
        store=store,
        intake=intake,
        triage=triage,
        timers=timers,
        digests=DigestJob(
            routing,
            store,
            clock,
            publishers,
            on_enqueued,
            events=events,
            reads=digest_reads(store),
            charts=_chart_links(settings, routing, charts),
            # The job keeps the embedding model once loaded: one load per process.
            themes=WeekThemes(
                SqlThemeTexts(engine, include_output=routing.privacy.store_output_text)
            ),
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
        priorities=priorities,
        webhooks=webhooks,
    )
    return runtime


def _chart_links(settings: Settings, routing: Routing, charts: SqlChartImages) -> ChartLinks | None:
    """Links for the Teams digest's chart, which needs the bot's public URL to be reachable."""
    if not settings.teams_enabled or not any(d.teams_channel for d in routing.digests):
        return None
    if settings.public_url is None:
        # A warning only where Teams is real: the local emulator (the quick start) has no
        # public address to give, and a warning there would be noise.
        level = logging.DEBUG if settings.teams_emulator_mode else logging.WARNING
        log.log(
            level,
            "Teams digest cards will have no chart: set LOOPKEEPER_PUBLIC_URL to the bot's "
            "public base URL (the one Teams reaches) so they can load it from /charts/",
        )
        return None
    return ChartLinks(charts, settings.public_url)
