"""Case delivery: turns a queued case notice into Web API calls when the outbox sends it: post
or update the card, reply in its thread, DM people. Raises DeliveryError to retry later when
the card isn't posted yet.

Slack's edge speaks through three modules, one step each:
- `notices.py` (the core's `Notices` port): what to say about a case, queued in the outbox;
- `sender.py` (the outbox's `Sender` port): sends each queued message, a plain Web API call
  as it is or, for a case notice, through this module;
- `case_delivery.py`: this module, resolving a case notice at delivery time, when the card's
  place and people's Slack ids are known.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import Case, OutboundMessage, Report
from bot.core.mrkdwn import escape, link
from bot.core.outbox import DeliveryError
from bot.core.ports import CaseCards, CaseForCards, Directory
from bot.core.read_ahead import BatchReads, Unread
from bot.core.routing_rules import Routing
from handlers.slack import budget, notices
from handlers.slack.card import ANSWER, card_blocks, card_text
from handlers.slack.directory import SLACK
from handlers.slack.permalink import Permalinks
from handlers.slack.posted import find_posted, post_once
from handlers.slack.unreached import unreached

log = logging.getLogger(__name__)

POSTED_CACHE = 10_000
CARD_EVENT = "loopkeeper_card"
"""Slack message metadata event type on every case card: how a retry finds a card it posted."""
DM_EVENT = "loopkeeper_dm"
"""Message metadata event type on every DM about a case, carrying its outbox key: how a retry
finds a DM it posted."""
POSTED_TTL_S = 300.0
CASE_NOTICES = frozenset({notices.CARD, notices.THREAD, notices.DIRECT, notices.REPORTER})

Where = tuple[str, str]
"""A Slack message: (channel id, ts)."""


class CaseDelivery:
    def __init__(
        self,
        routing: Routing,
        store: CaseCards,
        client: AsyncWebClient,
        directory: Directory,
        permalinks: Permalinks | None = None,
    ) -> None:
        self._routing = routing
        self._store = store
        self._client = client
        self._directory = directory
        # Card posts and updates of one case go one at a time within a process.
        self._card_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._permalinks = permalinks or Permalinks(client)
        # Cases whose card was just posted: the replies and DMs that follow only need the
        # case's id, system and card location, which never change once set, so they skip the
        # reads. Kept briefly: the cache serves a burst, the database the rest.
        self._posted: OrderedDict[int, tuple[float, Case, Where]] = OrderedDict()
        self._batch = BatchReads(store, SLACK, CASE_NOTICES, notices.CARD)

    async def claimed(self, messages: Sequence[OutboundMessage]) -> None:
        """Read a claimed batch's cases at once (bot/core/read_ahead.py)."""
        await self._batch.claimed(messages)

    async def deliver(self, message: OutboundMessage) -> None:
        payload = message.payload
        case_id = int(payload["case_id"])  # type: ignore[call-overload]
        ahead = self._batch.take(message)
        if message.method == notices.CARD:
            # Read under the lock: a post that just finished recorded where the card is.
            async with self._card_locks[case_id]:
                if isinstance(ahead, Unread):
                    found = await self._existing(case_id, message)
                    reports = None
                else:
                    found = self._ahead(case_id, ahead, message)
                    reports = ahead.reports if ahead is not None else None
                if found is not None:
                    case, where = found
                    await self._card(
                        case, where, bool(payload.get("post")), message.attempts > 1, reports
                    )
            return
        found = self._recent(case_id) or (
            await self._existing(case_id, message)
            if isinstance(ahead, Unread)
            else self._ahead(case_id, ahead, message)
        )
        if found is None:
            return
        case, where = found
        if message.method == notices.THREAD:
            await self._thread(case, where, str(payload["text"]))
        elif message.method == notices.DIRECT:
            await self._direct(
                case,
                where,
                str(payload["person"]),
                str(payload["text"]),
                key=message.dedupe_key,
                retry=message.attempts > 1,
            )
        elif message.method == notices.REPORTER:
            await self._reporter(case, payload)
        else:
            raise DeliveryError(f"unknown notice {message.method}", permanent=True)

    async def _existing(
        self, case_id: int, message: OutboundMessage
    ) -> tuple[Case, Where | None] | None:
        """The case and where its Slack card is (None: not posted, or not known to be)."""
        case = await self._store.get_case(case_id)
        if case is None:
            log.warning("dropping %s for a case that no longer exists", message.method)
            return None
        card = await self._store.card_of(case_id, SLACK)
        if card is None:
            return case, None
        where = (card.conversation_id, card.message_id)
        self._remember(case, where)
        return case, where

    def _ahead(
        self, case_id: int, ahead: CaseForCards | None, message: OutboundMessage
    ) -> tuple[Case, Where | None] | None:
        """As `_existing`, from what was read for the batch: a card this process posted since
        (an earlier message of the lane) counts too."""
        if ahead is None:
            log.warning("dropping %s for a case that no longer exists", message.method)
            return None
        if ahead.card is None:
            recent = self._recent(case_id)
            return (ahead.case, recent[1]) if recent is not None else (ahead.case, None)
        where = (ahead.card.conversation_id, ahead.card.message_id)
        self._remember(ahead.case, where)
        return ahead.case, where

    def _remember(self, case: Case, where: Where) -> None:
        assert case.id is not None
        self._posted[case.id] = (time.monotonic(), case, where)
        self._posted.move_to_end(case.id)
        while len(self._posted) > POSTED_CACHE:
            self._posted.popitem(last=False)

    def _recent(self, case_id: int) -> tuple[Case, Where] | None:
        found = self._posted.get(case_id)
        if found is None or time.monotonic() - found[0] > POSTED_TTL_S:
            return None
        return found[1], found[2]

    def _triage_channel(self, case: Case) -> str | None:
        system = self._routing.system(case.system_id)
        return system.triage.slack_channel if system else None

    async def _card(
        self,
        case: Case,
        where: Where | None,
        may_post: bool,
        retry: bool = False,
        reports: list[Report] | None = None,
    ) -> None:
        assert case.id is not None
        if reports is None:
            reports = await self._store.reports_of(case.id)
        owner_id = await self._directory.account(case.owner, SLACK) if case.owner else None
        text = card_text(case, self._routing)
        blocks = card_blocks(case, reports, self._routing, owner_id)
        if where is not None:
            await self._client.chat_update(channel=where[0], ts=where[1], text=text, blocks=blocks)
            return
        channel = self._triage_channel(case)
        if channel is None:
            return  # this system triages elsewhere (Teams) or nowhere: nothing to post
        if not may_post:
            raise DeliveryError("the card is not posted yet")
        # Slack has no idempotency key: a retry looks for a post whose answer was lost first.
        channel, ts = await post_once(
            self._client,
            channel,
            CARD_EVENT,
            "case_id",
            case.id,
            text=text,
            blocks=blocks,
            retried_since=case.created_at if retry else None,
        )
        await self._store.record_card(case.id, SLACK, channel, ts)
        self._remember(case, (channel, ts))

    async def _thread(self, case: Case, where: Where | None, text: str) -> None:
        if self._triage_channel(case) is None:
            return
        if where is None:
            raise DeliveryError("the card is not posted yet")
        await self._client.chat_postMessage(
            channel=where[0],
            thread_ts=where[1],
            text=_words(text, budget.MESSAGE_TEXT),
        )

    async def _link(self, case: Case, where: Where | None) -> str:
        if where is None:
            return ""
        permalink = await self._permalinks.top_level(*where)
        return " " + link(permalink, f"Open case #{case.id}")

    async def _direct(
        self,
        case: Case,
        where: Where | None,
        person_id: str,
        text: str,
        *,
        key: str,
        retry: bool = False,
    ) -> None:
        user = await self._directory.account(person_id, SLACK)
        if user is None:
            if await self._directory.reachable(person_id) is None:  # Slack did not answer
                raise DeliveryError(f"looking {person_id} up in Slack failed")
            person = (person_id, self._routing.name_of(person_id))
            channel = self._triage_channel(case)
            await unreached(self._client, where, channel, person, text, key=key, retry=retry)
            return
        if self._triage_channel(case) and where is None:
            raise DeliveryError("the card is not posted yet")  # so the DM can link to it
        # As with cards: a retry may follow a post whose answer was lost. Look in the DM first.
        if retry and await self._find_dm(case, user, key):
            return
        opener = await self._link(case, where)
        await self._client.chat_postMessage(
            channel=user,
            text=_words(text, budget.MESSAGE_TEXT - len(opener)) + opener,
            metadata={"event_type": DM_EVENT, "event_payload": {"case_id": case.id, "key": key}},
        )

    async def _find_dm(self, case: Case, user: str, key: str) -> bool:
        """Whether the DM with outbox key `key` is in the bot's DM with `user` already. If the
        DM cannot be read, False: a second DM beats none."""
        try:
            opened = await self._client.conversations_open(users=user)
            channel = (opened.get("channel") or {}).get("id")
            if not channel:
                return False
            return (
                await find_posted(self._client, str(channel), case.opened_at, DM_EVENT, "key", key)
                is not None
            )
        except SlackApiError as error:
            log.warning("could not look for a DM about case #%s to %s: %s", case.id, user, error)
            return False

    async def _reporter(self, case: Case, payload: dict[str, Any]) -> None:
        user = payload.get("slack_id")
        if not user and payload.get("email"):
            found = await self._client.users_lookupByEmail(email=str(payload["email"]))
            user = (found.get("user") or {}).get("id")
        if not user:
            raise DeliveryError("reporter has no Slack account", permanent=True)
        text = _words(str(payload["text"]), budget.SECTION_TEXT)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        ]
        if payload.get("ask"):
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": ANSWER,
                            "text": {"type": "plain_text", "text": "Answer"},
                            "style": "primary",
                            "value": str(case.id),
                        }
                    ],
                }
            )
        await self._client.chat_postMessage(channel=str(user), text=text, blocks=blocks)


def _words(text: str, limit: int) -> str:
    """A notice's text as inert mrkdwn. The core writes notices as plain words; names, notes,
    questions and answers in them are anyone's, so all of it is escaped here, at the edge."""
    return escape(text, limit)
