"""Builds the Teams edge from the settings: the one factory the composition root calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bot.config.settings import Settings
from bot.core.intake import IntakeService
from bot.core.ports import Clock, Directory, Reach
from bot.core.routing_rules import Routing
from bot.core.triage import TriageService
from digests.publisher import Publisher
from handlers.http import Handler
from handlers.teams.activities import TeamsActivities
from handlers.teams.connector import BotConnector
from handlers.teams.digest import publish_to_teams
from handlers.teams.directory import ReachableDirectory, TeamsDirectory, TeamsReach
from handlers.teams.endpoint import TeamsEndpoint
from handlers.teams.intake import TeamsIntake
from handlers.teams.notices import TeamsNotices
from handlers.teams.records import TeamsStore
from handlers.teams.sender import TeamsSender
from handlers.teams.triage import TeamsTriage


@dataclass
class TeamsEdge:
    """Everything Teams adds to a runtime.

    `notices`, `sender` and `publisher` exist before the core services do (the services need
    the notices); `route(intake, triage)` then gives the POST /api/messages handler.
    """

    settings: Settings
    routing: Routing
    store: TeamsStore
    clock: Clock
    adapter: CloudAdapter
    connector: BotConnector
    directory: TeamsDirectory
    notices: TeamsNotices
    sender: TeamsSender
    publisher: Publisher

    def route(
        self,
        intake: IntakeService,
        triage: TriageService,
        on_enqueued: Callable[[], None] | None = None,
        *,
        is_transient: Callable[[BaseException], bool],
    ) -> Handler:
        activities = TeamsActivities(
            self.store,
            self.clock,
            TeamsIntake(self.routing, intake, self.clock),
            TeamsTriage(self.routing, triage, self.store, self.directory, self.clock, on_enqueued),
        )
        endpoint = TeamsEndpoint(
            self.adapter,
            self.connector,
            activities,
            authenticated=not self.settings.teams_emulator_mode,
            is_transient=is_transient,
        )
        return endpoint.handle

    def reachability(self, slack: Directory | None) -> Directory | None:
        """The directory intake routes with: Slack's, also counting people Teams reaches."""
        if slack is None:
            return None
        return ReachableDirectory(slack, self.directory, self.notices.reaches)

    def escalation_reach(self, slack: Directory | None) -> Reach:
        """Who escalation steps can reach: as intake sees it, or with Slack off, Teams alone."""
        return self.reachability(slack) or TeamsReach(self.directory, self.notices.reaches)

    def close(self) -> None:
        self.connector.close()


def build_teams_edge(
    settings: Settings,
    routing: Routing,
    store: TeamsStore,
    clock: Clock,
    *,
    slack_enabled: bool,
) -> TeamsEdge:
    """The Teams edge: CloudAdapter with the Microsoft credentials (none: emulator mode)."""
    password = settings.microsoft_app_password
    configuration = SimpleNamespace(
        APP_ID=settings.microsoft_app_id or None,
        APP_PASSWORD=password.get_secret_value() if password else None,
        APP_TYPE=settings.microsoft_app_type or "MultiTenant",
        APP_TENANTID=settings.microsoft_app_tenant_id,
    )
    auth = ConfigurationBotFrameworkAuthentication(configuration)
    adapter = CloudAdapter(auth)
    connector = BotConnector(auth, settings.microsoft_app_id)
    directory = TeamsDirectory(routing, store, connector, clock)
    return TeamsEdge(
        settings=settings,
        routing=routing,
        store=store,
        clock=clock,
        adapter=adapter,
        connector=connector,
        directory=directory,
        notices=TeamsNotices(routing, clock, slack_enabled=slack_enabled),
        sender=TeamsSender(routing, store, connector, directory, clock),
        publisher=publish_to_teams,
    )
