"""Where each Teams outbox message lands, for the pacer (the core's `Destinations` port).

Teams limits a bot per conversation, whatever it does there: a card, its update and its thread
replies all spend the triage conversation's budget, and so do messages to people about a case
triaged in Teams (they may land in its thread as an @mention).
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
        if method in (notices.CARD, notices.SURGE_CARD):
            purpose = Purpose.first if payload.get("post") else Purpose.follow_up
            return self._triage(message, purpose)
        if method == notices.THREAD:
            return self._triage(message, Purpose.follow_up)
        if method in (notices.DIRECT, notices.SURGE_DIRECT):
            return self._to_person(message, f"person:{payload.get('person')}", Purpose.owner)
        if method == notices.REPORTER:
            return self._to_person(message, f"user:{payload.get('reporter')}", Purpose.first)
        if method == notices.POST and payload.get("conversation"):
            key = f"teams:conversation:{payload['conversation']}"
            return Destination(key, TEAMS_CONVERSATION, Purpose.bulk)
        return None

    def _to_person(self, message: OutboundMessage, who: str, purpose: Purpose) -> Destination:
        """A person is messaged 1:1 if the bot has a chat with them, else @mentioned in the
        case's thread; which, only delivery knows. The thread is the one that can be
        overrun, so a system triaged in Teams paces them with its channel."""
        triage = self._triage(message, purpose)
        if triage.key.startswith("teams:conversation:"):
            return triage
        return Destination(f"teams:{who}", TEAMS_CONVERSATION, purpose)

    def _triage(self, message: OutboundMessage, purpose: Purpose) -> Destination:
        system = self._routing.system(str(message.payload.get("system") or ""))
        conversation = system.triage.teams_channel if system is not None else None
        key = (
            f"teams:conversation:{conversation}"
            if conversation
            else f"teams:case:{message.payload.get('case_id')}"
        )
        return Destination(key, TEAMS_CONVERSATION, purpose)
