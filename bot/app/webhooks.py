"""Wiring the webhooks: their own delivery loop over the outbox's webhook messages, so a receiver
that is down or slow never delays a Slack or Teams message (those have the main loop)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import aiohttp

from bot.config.webhooks import read_secrets
from bot.core.burst_priorities import GiveWay
from bot.core.case_events import WEBHOOK
from bot.core.outbox import OutboxDispatcher, Sender
from bot.core.ports import Clock, Outbox, Platforms
from bot.core.routing_rules import Routing
from bot.core.telemetry import Events
from handlers.webhooks.sender import RemovedWebhooks, WebhookSender

WEBHOOKS = Platforms(frozenset({WEBHOOK}))
CHAT = Platforms(frozenset({WEBHOOK}), others=True)


def chat_platforms(routing: Routing) -> Platforms | None:
    """What the main delivery loop takes: everything but webhooks when there are any (without
    webhooks configured, left-over webhook messages are dead-lettered there: no sender)."""
    return CHAT if routing.webhooks else None


def removed_webhooks(routing: Routing) -> dict[str, Sender]:
    """The main loop's sender of webhook messages when there is no webhook loop: routing.yaml
    names no webhook, so those left queued from before are dropped, saying why."""
    return {} if routing.webhooks else {WEBHOOK: RemovedWebhooks()}


def webhook_dispatcher(
    routing: Routing,
    outbox: Outbox,
    clock: Clock,
    session: aiohttp.ClientSession,
    *,
    give_way: GiveWay | None,
    events: Events,
    env_file: Path | None = Path(".env"),
) -> OutboxDispatcher | None:
    """The webhooks' delivery loop, or None when routing.yaml names no webhook."""
    if not routing.webhooks:
        return None
    sender = WebhookSender(
        session,
        read_secrets(routing.webhooks, env_file=env_file),
        clock,
        configured=[hook.url for hook in routing.webhooks],
        user_agent=_agent(),
    )
    return OutboxDispatcher(
        outbox,
        {WEBHOOK: sender},
        clock,
        batch=8,  # at most 8 requests in flight: the session's pool stays free for Slack
        give_way=give_way,
        events=events,
        platforms=WEBHOOKS,
    )


def _agent() -> str:
    try:
        return f"loopkeeper/{version('loopkeeper')}"
    except PackageNotFoundError:
        return "loopkeeper"
