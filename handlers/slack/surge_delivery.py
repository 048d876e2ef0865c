"""Surge delivery: posts and updates a surge card, DMs its owners, and carries the notices of
a case folded into a surge (no card of its own) through the surge card instead.

Like `case_delivery.py`, it resolves a queued notice when the outbox sends it: the card is
rendered from the surge's cases then, so a delayed update shows every case filed until then.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import OutboundMessage
from bot.core.mrkdwn import escape, link
from bot.core.outbox import DeliveryError
from bot.core.ports import CaseReads, Directory, SurgeReads
from bot.core.routing_rules import Routing
from bot.core.surge_record import SurgeRecord
from bot.core.surge_summary import summarise
from handlers.slack import budget, notices
from handlers.slack.directory import SLACK
from handlers.slack.permalink import Permalinks
from handlers.slack.posted import post_once
from handlers.slack.surge_card import SURGE_EVENT, surge_blocks, surge_text
from handlers.slack.unreached import say_in_thread

Where = tuple[str, str]
log = logging.getLogger(__name__)


class SurgeStore(CaseReads, SurgeReads, Protocol):
    """What surge delivery reads: surges, their cases and cards."""


class SurgeDelivery:
    def __init__(
        self,
        routing: Routing,
        store: SurgeStore,
        client: AsyncWebClient,
        directory: Directory,
        permalinks: Permalinks | None = None,
    ) -> None:
        self._routing = routing
        self._store = store
        self._client = client
        self._directory = directory
        self._permalinks = permalinks or Permalinks(client)
        # A surge card's post and updates go one at a time within a process.
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def deliver(self, message: OutboundMessage) -> None:
        payload = message.payload
        surge = await self._store.get_surge(int(payload["surge_id"]))  # type: ignore[call-overload]
        if surge is None:
            return
        if message.method == notices.SURGE_CARD:
            await self._card(surge, bool(payload.get("post")), retry=message.attempts > 1)
        elif message.method == notices.SURGE_DIRECT:
            await self._direct(surge, str(payload["person"]), str(payload["text"]), message)
        else:
            raise DeliveryError(f"unknown notice {message.method}", permanent=True)

    async def folded(self, message: OutboundMessage) -> bool:
        """Deliver a notice about a case folded into a surge through the surge's card: a card
        refresh updates the surge card, a thread line goes in its thread, a DM links to it.
        False when the case has a card of its own (or the notice is for the reporter)."""
        if message.method not in (notices.CARD, notices.THREAD, notices.DIRECT):
            return False
        case_id = int(message.payload["case_id"])  # type: ignore[call-overload]
        surge = await self._store.folded_into(case_id)
        if surge is None:
            return False
        if message.method == notices.CARD:
            await self._card(surge, post=False)
            return True
        text = str(message.payload["text"])
        if message.method == notices.THREAD:
            if self._channel(surge) is None:
                return True  # this system triages elsewhere (Teams): no thread here
            where = await self._where(surge)
            line = escape(f"Case #{case_id}: {text}", budget.MESSAGE_TEXT)
            await self._client.chat_postMessage(channel=where[0], thread_ts=where[1], text=line)
        else:
            await self._direct(surge, str(message.payload["person"]), text, message)
        return True

    def _channel(self, surge: SurgeRecord) -> str | None:
        system = self._routing.system(surge.system_id)
        return system.triage.slack_channel if system else None

    async def _where(self, surge: SurgeRecord) -> Where:
        where = await self._store.surge_card_of(surge.stored_id, SLACK)
        if where is None:
            raise DeliveryError("the surge card is not posted yet")
        return where

    async def _card(self, surge: SurgeRecord, post: bool, *, retry: bool = False) -> None:
        channel = self._channel(surge)
        if channel is None:
            return  # this system triages elsewhere (Teams) or nowhere
        async with self._locks[surge.stored_id]:
            cases = await self._store.surge_cases(surge.stored_id)
            summary = summarise(surge, cases, self._routing)
            text, blocks = surge_text(summary), surge_blocks(summary, self._routing)
            where = await self._store.surge_card_of(surge.stored_id, SLACK)
            if where is not None:
                await self._client.chat_update(
                    channel=where[0], ts=where[1], text=text, blocks=blocks
                )
                return
            if not post:
                raise DeliveryError("the surge card is not posted yet")
            channel, ts = await post_once(
                self._client,
                channel,
                SURGE_EVENT,
                "surge_id",
                surge.id,
                text=text,
                blocks=blocks,
                retried_since=surge.opened_at if retry else None,
            )
            await self._store.record_surge_card(surge.stored_id, SLACK, channel, ts)

    async def _direct(
        self, surge: SurgeRecord, person_id: str, text: str, message: OutboundMessage
    ) -> None:
        user = await self._directory.account(person_id, SLACK)
        if user is None:
            if await self._directory.reachable(person_id) is None:
                raise DeliveryError(f"looking {person_id} up in Slack failed")
            # Nobody to DM: said in the surge card's thread, where the surge is worked.
            if self._channel(surge) is None:
                raise DeliveryError(f"{person_id} has no Slack account we can find", permanent=True)
            name = self._routing.name_of(person_id)
            where = await self._where(surge)
            key = message.dedupe_key or f"surge:{surge.id}:dm:{person_id}"
            await say_in_thread(
                self._client, where, name, text, key=key, retry=message.attempts > 1
            )
            log.warning(
                "%s has no Slack account we can find: their DM was said in the surge's thread",
                person_id,
            )
            return
        opener = ""
        if self._channel(surge) is not None:  # so the DM can link to the card
            where = await self._where(surge)
            permalink = await self._permalinks.top_level(*where)
            opener = " " + link(permalink, "Open the surge card")
        body: dict[str, Any] = {
            "channel": user,
            "text": escape(text, budget.MESSAGE_TEXT - len(opener)) + opener,
        }
        await self._client.chat_postMessage(**body)
