"""Where each Slack outbox message lands, for the pacer (the core's `Destinations` port):
which budget it spends, at what rate, and how urgent it is.

chat.postMessage is limited per channel (a DM is a channel), so a post spends its channel's
budget; a card refresh is a chat.update and a confirmation in the channel a chat.postEphemeral,
each limited per workspace by its tier, so all refreshes share one budget and all confirmations
another. Messages whose place is only known at delivery time are keyed by what decides
it: a DM by the person's Slack id (by the person when the id is only looked up when sent), a
card and its thread by the system's triage channel.
"""

from __future__ import annotations

from bot.core.models import OutboundMessage
from bot.core.pacing import SLACK_CHANNEL, SLACK_TIER_3, SLACK_TIER_4, Destination, Purpose
from bot.core.routing_rules import Routing
from handlers.slack import notices
from handlers.slack.sender import FILE

SLACK = "slack"


class SlackDestinations:
    def __init__(self, routing: Routing) -> None:
        self._routing = routing

    def destination(self, message: OutboundMessage) -> Destination | None:
        if message.platform != SLACK:
            return None
        payload, method = message.payload, message.method
        if method == notices.CARD:
            if not payload.get("post"):
                return Destination("slack:method:chat.update", SLACK_TIER_3, Purpose.follow_up)
            return self._triage(message, Purpose.first)
        if method == notices.SURGE_CARD:  # posted once into the triage channel, then updated
            if not payload.get("post"):
                return Destination("slack:method:chat.update", SLACK_TIER_3, Purpose.follow_up)
            return self._triage(message, Purpose.first)
        if method == notices.THREAD:
            return self._triage(message, Purpose.follow_up)
        if method in (notices.DIRECT, notices.SURGE_DIRECT):
            person_id = str(payload.get("person"))
            person = self._routing.person(person_id)
            # Keyed as the reporters' DMs are, by Slack id, when the routing file has it.
            who = f"user:{person.slack}" if person and person.slack else f"person:{person_id}"
            return Destination(f"slack:{who}", SLACK_CHANNEL, Purpose.owner)
        if method == notices.REPORTER:
            reporter = payload.get("slack_id") or payload.get("email")
            return Destination(f"slack:user:{reporter}", SLACK_CHANNEL, Purpose.first)
        if method in (FILE, "chat.postMessage") and payload.get("channel"):
            return Destination(f"slack:channel:{payload['channel']}", SLACK_CHANNEL, Purpose.bulk)
        if method == "chat.update":
            return Destination("slack:method:chat.update", SLACK_TIER_3, Purpose.follow_up)
        if method == "chat.postEphemeral":  # a reporter's confirmation, in the channel
            return Destination("slack:method:chat.postEphemeral", SLACK_TIER_4, Purpose.first)
        return None

    def _triage(self, message: OutboundMessage, purpose: Purpose) -> Destination:
        system = self._routing.system(str(message.payload.get("system") or ""))
        channel = system.triage.slack_channel if system is not None else None
        if channel:
            return Destination(f"slack:channel:{channel}", SLACK_CHANNEL, purpose)
        # Queued before notices named their system: paced on its own, as one more channel.
        return Destination(f"slack:case:{message.payload.get('case_id')}", SLACK_CHANNEL, purpose)
