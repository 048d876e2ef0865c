"""Wiring the outbox's pacer (bot/core/pacing.py): each platform's destinations, and the
budgets in the database every replica shares. Off with LOOPKEEPER_PACING=off."""

from __future__ import annotations

from bot.config.settings import Settings
from bot.core.pacing import AnyDestinations, Destinations, Pacing
from bot.core.routing_rules import Routing
from handlers.slack.destinations import SlackDestinations
from handlers.teams.destinations import TeamsDestinations
from storage.repository import SqlCaseStore
from storage.send_budgets import SqlSendBudgets


def outbox_pacing(settings: Settings, routing: Routing, store: SqlCaseStore) -> Pacing | None:
    """The pacer for chat messages, or None when pacing is off."""
    if settings.pacing == "off":
        return None
    platforms: list[Destinations] = [SlackDestinations(routing), TeamsDestinations(routing)]
    return Pacing(SqlSendBudgets(store.sessions), AnyDestinations(*platforms))
