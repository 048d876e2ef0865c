"""Builds the Slack edge of a runtime: bolt apps (Events API and Socket Mode), the sender, and
the inbox handlers that file what Slack acknowledged.

Called by `build_runtime` (bot/app/main.py) when a bot token is set; the runtime takes what is
returned and plugs it into its outbox, inbox, routes and status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import Settings
from bot.core.background import Background
from bot.core.burst_priorities import Acks
from bot.core.fill_in import OutputFiller
from bot.core.inbox import BatchHandler, DeadLetterNotice, Handler, InboxWorker
from bot.core.intake import IntakeService
from bot.core.outbox import Sender
from bot.core.ports import Clock, Notices
from bot.core.routing_rules import Routing
from bot.core.triage import TriageService
from handlers.http import Handler as HttpHandler
from handlers.slack.app import build_bolt_app, events_route
from handlers.slack.case_delivery import CaseDelivery
from handlers.slack.directory import SlackDirectory
from handlers.slack.identity import learn_identity
from handlers.slack.inbox import (
    SLACK_REACTION,
    reaction_acceptor,
    reaction_handler,
    reactions_handler,
)
from handlers.slack.listeners import SlackIntake
from handlers.slack.permalink import Permalinks
from handlers.slack.queued import SLACK_REPORT, flag_queue
from handlers.slack.reread import SLACK_REREAD, Reread
from handlers.slack.sender import SlackSender
from handlers.slack.socket_mode import SocketMode, build_socket_mode
from handlers.slack.surge_delivery import SurgeDelivery
from handlers.slack.triage import SlackTriage
from handlers.slack.unfiled import unfiled_reaction_notice, unfiled_report_notice
from storage.faults import is_transient
from storage.repository import SqlCaseStore


@dataclass
class SlackEdge:
    """What Slack adds to a runtime."""

    bolt_app: AsyncApp
    sender: Sender
    authenticated: bool
    """Whether `auth.test` answered at start-up (shown on /status)."""
    events_route: HttpHandler | None = None
    socket_mode: SocketMode | None = None
    inbox_handlers: dict[str, Handler] = field(default_factory=dict)
    batch_handlers: dict[str, BatchHandler] = field(default_factory=dict)
    dead_letter_notices: dict[str, DeadLetterNotice] = field(default_factory=dict)


async def wire_slack(
    settings: Settings,
    routing: Routing,
    store: SqlCaseStore,
    clock: Clock,
    client: AsyncWebClient,
    directory: SlackDirectory,
    *,
    intake: IntakeService,
    triage: TriageService,
    inbox: InboxWorker,
    acks: Acks,
    background: Background,
    announced: Notices | None,
    on_enqueued: Callable[[], None],
) -> SlackEdge:
    """StartupError when Slack refuses the token; the caller closes what it opened."""
    permalinks = Permalinks(client)  # one auth.test per process
    case_delivery = CaseDelivery(routing, store, client, directory, permalinks)
    queue = flag_queue(store, clock, inbox.wake, acks)
    slack_intake = SlackIntake(
        routing, intake, store, clock, directory, permalinks, background=background, queue=queue
    )
    slack_triage = SlackTriage(routing, triage, store, directory, background=background)
    bolt_app = build_bolt_app(client, slack_intake, slack_triage, is_transient=is_transient)
    # Before the first request, so no user's request waits for it.
    authenticated = await learn_identity(client, bolt_app, permalinks)
    surge_delivery = (  # only when surges fold: it reads each case notice's surge first
        SurgeDelivery(routing, store, client, directory, permalinks) if routing.surge else None
    )
    sender = SlackSender(client, case_delivery, surge_delivery)
    edge = SlackEdge(bolt_app, sender, authenticated)
    # A flagged message Slack would not give at filing time is read again later.
    filler = OutputFiller(routing, store, clock, announced, on_enqueued)
    reread = Reread(store, client, permalinks, filler, clock, inbox.wake)
    edge.inbox_handlers[SLACK_REACTION] = reaction_handler(slack_intake, client, reread)
    edge.batch_handlers[SLACK_REACTION] = reactions_handler(slack_intake, client, reread)
    edge.inbox_handlers[SLACK_REREAD] = reread.handle
    edge.inbox_handlers[SLACK_REPORT] = slack_intake.queued_flags(client)
    edge.dead_letter_notices[SLACK_REACTION] = unfiled_reaction_notice
    edge.dead_letter_notices[SLACK_REPORT] = unfiled_report_notice
    if settings.slack_signing_secret is not None:
        edge.events_route = events_route(
            bolt_app,
            settings.slack_signing_secret.get_secret_value(),
            clock,
            accept_reaction=reaction_acceptor(slack_intake, store, clock, inbox.wake, acks),
            is_transient=is_transient,
        )
    if settings.slack_app_token is not None:  # its own bolt app: it answers over the socket
        socket_app = build_bolt_app(client, slack_intake, slack_triage, is_transient=is_transient)
        await learn_identity(client, socket_app, permalinks)
        edge.socket_mode = build_socket_mode(
            socket_app,
            settings.slack_app_token.get_secret_value(),
            is_transient=is_transient,
            accept_reaction=reaction_acceptor(slack_intake, store, clock, inbox.wake, acks),
        )
    return edge
