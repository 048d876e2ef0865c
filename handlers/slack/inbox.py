"""Reactions through the inbox: accepted (committed) at the edge, filed by the inbox worker."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.burst_priorities import Acks
from bot.core.inbox import Inbox
from bot.core.models import InboxItem
from bot.core.ports import Clock
from handlers.slack.listeners import SlackIntake
from handlers.slack.payloads import reaction_event, reaction_problem
from handlers.slack.reread import Reread

log = logging.getLogger(__name__)

SLACK_REACTION = "slack.reaction_added"


def reaction_acceptor(
    intake: SlackIntake,
    store: Inbox,
    clock: Clock,
    wake: Callable[[], None],
    acks: Acks | None = None,
) -> Callable[[dict[str, Any], str], Awaitable[None]]:
    arriving = acks.arriving if acks is not None else contextlib.nullcontext

    async def accept(event: dict[str, Any], event_id: str) -> None:
        # Checked before it is committed: a row the worker can never file (a 100 kB user id
        # does not even fit PostgreSQL's index rows) would be retried forever.
        problem = reaction_problem(event, event_id)
        if problem is not None:
            log.warning("malformed Slack request ignored: %s (reaction_added)", problem)
            return
        if intake.reaction_category(event) is None:
            return  # an emoji we don't map: nothing to keep
        # Only what filing reads is kept, so nothing else in the event can poison the row.
        payload = {"event": reaction_event(event), "event_id": event_id}
        with arriving():
            key = f"slack:event:{event_id}"
            if await store.accept(key, SLACK_REACTION, payload, clock.now()):
                wake()

    return accept


def reaction_handler(
    intake: SlackIntake, client: AsyncWebClient, reread: Reread | None = None
) -> Callable[[InboxItem], Awaitable[None]]:
    async def handle(item: InboxItem) -> None:
        event, event_id = item.payload["event"], str(item.payload["event_id"])
        unread = await intake.file_reaction(event, event_id, client)
        if reread is not None:
            await reread.later(unread)

    return handle


def reactions_handler(
    intake: SlackIntake, client: AsyncWebClient, reread: Reread | None = None
) -> Callable[[list[InboxItem]], Awaitable[None]]:
    async def handle(items: list[InboxItem]) -> None:
        reactions = [(item.payload["event"], str(item.payload["event_id"])) for item in items]
        unread = await intake.file_reactions(reactions, client)
        if reread is not None:
            await reread.later(unread)

    return handle
