"""Reactions through the inbox: accepted (committed) at the edge, filed by the inbox worker."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.inbox import Inbox
from bot.models import InboxItem
from bot.ports import Clock
from bot.woken import Arrivals
from handlers.slack.listeners import SlackIntake
from handlers.slack.reread import Reread

SLACK_REACTION = "slack.reaction_added"


def reaction_acceptor(
    intake: SlackIntake,
    store: Inbox,
    clock: Clock,
    wake: Callable[[], None],
    arrivals: Arrivals | None = None,
) -> Callable[[dict[str, Any], str], Awaitable[None]]:
    arriving = arrivals.arriving if arrivals is not None else contextlib.nullcontext

    async def accept(event: dict[str, Any], event_id: str) -> None:
        if intake.reaction_category(event) is None:
            return  # an emoji we don't map: nothing to keep
        payload = {"event": event, "event_id": event_id}
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
