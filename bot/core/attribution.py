"""Which AI system a flagged output belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.core.models import FlaggedOutput
from bot.core.routing_rules import Routing, System

Basis = Literal["metadata", "explicit", "bot", "channel", "fallback"]


class UnknownSystem(ValueError):
    """An explicitly named system is not in routing.yaml."""


@dataclass(frozen=True)
class Attribution:
    system: System
    basis: Basis


def attribute(
    routing: Routing, output: FlaggedOutput | None, explicit_system: str | None = None
) -> Attribution:
    """Metadata `ai_output` wins, then an explicit system, the poster, the channel, the fallback."""
    if output is not None and output.system_hint:
        hinted = routing.system(output.system_hint)
        if hinted is not None:
            return Attribution(hinted, "metadata")
    if explicit_system:
        named = routing.system(explicit_system)
        if named is None:
            raise UnknownSystem(f"unknown system '{explicit_system}'")
        return Attribution(named, "explicit")
    if output is not None and output.author_bot_id:
        if output.platform == "teams":
            by_bot = _teams_bot(routing, output.author_bot_id)
        else:
            by_bot = routing.system_for_slack_bot(output.author_bot_id)
        if by_bot is not None:
            return Attribution(by_bot, "bot")
    if output is not None and output.channel_id:
        by_channel = routing.system_for_slack_channel(output.channel_id)
        if by_channel is not None:
            return Attribution(by_channel, "channel")
    fallback = routing.system(routing.fallback_system) if routing.fallback_system else None
    return Attribution(fallback or routing.systems[0], "fallback")


def _teams_bot(routing: Routing, bot_id: str) -> System | None:
    """A Teams bot by id, with or without the `28:` prefix bot accounts carry."""
    bare = bot_id.removeprefix("28:")
    return routing.system_for_teams_bot(bot_id) or routing.system_for_teams_bot(
        bare if bare != bot_id else f"28:{bot_id}"
    )
