"""Where each Teams outbox message lands, for the pacer (the core's `Destinations` port).

Teams limits a bot per conversation, whatever it does there: a card, its update and its thread
replies all spend the triage conversation's budget; a 1:1 message spends the person's.
"""

from __future__ import annotations

from bot.core.models import OutboundMessage
from bot.core.pacing import TEAMS_CONVERSATION, Destination, Purpose
from bot.core.routing_rules import Routing
from handlers.teams import notices


class TeamsDestinations:
    def __init__(self, routing: Routing) -> None:
        self._routing = routing

    def destination(self, message: OutboundMessage) -> Destination | None:
        if message.platform != notices.PLATFORM:
            return None
        payload, method = message.payload, message.method
        if method == notices.CARD:
            purpose = Purpose.first if payload.get("post") else Purpose.follow_up
            return self._triage(message, purpose)
        if method == notices.THREAD:
            return self._triage(message, Purpose.follow_up)
        if method == notices.DIRECT:
            key = f"teams:person:{payload.get('person')}"
            return Destination(key, TEAMS_CONVERSATION, Purpose.owner)
        if method == notices.REPORTER:
            key = f"teams:user:{payload.get('reporter')}"
            return Destination(key, TEAMS_CONVERSATION, Purpose.first)
        if method == notices.POST and payload.get("conversation"):
            key = f"teams:conversation:{payload['conversation']}"
            return Destination(key, TEAMS_CONVERSATION, Purpose.bulk)
        return None

    def _triage(self, message: OutboundMessage, purpose: Purpose) -> Destination:
        system = self._routing.system(str(message.payload.get("system") or ""))
        conversation = system.triage.teams_channel if system is not None else None
        key = (
            f"teams:conversation:{conversation}"
            if conversation
            else f"teams:case:{message.payload.get('case_id')}"
        )
        return Destination(key, TEAMS_CONVERSATION, purpose)
