"""Sends Teams outbox messages through the Bot Connector (the outbox's `Sender` port for
Teams): post or refresh the case card, reply in its thread, message people 1:1 (or @mention
them in the thread), post digests. Its counterpart `notices.py` (the core's `Notices` port)
decides what is said and queues it; Teams needs no separate case delivery, as Slack's edge has,
because the card and conversation references are resolved here.

Raises DeliveryError to be retried later (card not posted yet, no conversation reference yet,
the connector down or throttling) or, when retrying cannot help, a permanent one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from bot.core.models import CardLocation, Case, OutboundMessage
from bot.core.outbox import DeliveryError
from bot.core.ports import CaseForCards, Clock
from bot.core.read_ahead import KEPT, UNREAD, BatchReads, Unread
from bot.core.routing_rules import Routing
from handlers.teams import cards, notices
from handlers.teams.case_card import case_card, case_summary, thread_link
from handlers.teams.connector import BotConnector
from handlers.teams.directory import TeamsDirectory
from handlers.teams.records import TEAMS, TeamsConversation, TeamsDelivery
from handlers.teams.surge_sending import SurgeSending
from handlers.teams.unreached import unreached_message

log = logging.getLogger(__name__)

CASE_NOTICES = (notices.CARD, notices.THREAD, notices.DIRECT, notices.REPORTER)
_READ: ContextVar[CaseForCards | Unread] = ContextVar("teams_read_ahead", default=UNREAD)
"""What was read ahead for the case notice being sent (in its own task)."""


class TeamsSender(SurgeSending):
    def __init__(
        self,
        routing: Routing,
        store: TeamsDelivery,
        connector: BotConnector,
        directory: TeamsDirectory,
        clock: Clock,
    ) -> None:
        self._routing = routing
        self._store = store
        self._connector = connector
        self._directory = directory
        self._clock = clock
        # Card posts and updates of one case go one at a time within a process.
        self._card_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._batch = BatchReads(store, TEAMS, CASE_NOTICES, notices.CARD)
        # Cards this process posted: a later notice of the lane, read ahead before the card
        # was posted, finds it here.
        self._recorded: OrderedDict[int, CardLocation] = OrderedDict()

    async def claimed(self, messages: Sequence[OutboundMessage]) -> None:
        """Read a claimed batch's cases at once (bot/core/read_ahead.py)."""
        await self._batch.claimed(messages)

    async def send(self, message: OutboundMessage) -> None:
        payload = message.payload
        if await self._surge_notice(message):  # a surge card, or a case folded into one
            return
        if message.method == notices.POST:
            await self._post(str(payload["conversation"]), dict(payload["activity"]))  # type: ignore[call-overload]
            return
        ahead = self._batch.take(message)
        if isinstance(ahead, Unread):
            case = await self._store.get_case(int(payload["case_id"]))  # type: ignore[call-overload]
        else:
            case = ahead.case if ahead is not None else None
        if case is None or case.id is None:
            log.warning("dropping %s for a case that no longer exists", message.method)
            return
        token = _READ.set(ahead if ahead is not None else UNREAD)
        try:
            await self._case_notice(message, case)
        finally:
            _READ.reset(token)

    async def _case_notice(self, message: OutboundMessage, case: Case) -> None:
        payload = message.payload
        assert case.id is not None
        if message.method == notices.CARD:
            async with self._card_locks[case.id]:
                read = _READ.get()
                if isinstance(read, Unread):  # read again under the lock: the latest
                    case = await self._store.get_case(case.id) or case
                await self._card(case, bool(payload.get("post")))
        elif message.method == notices.THREAD:
            await self._thread(case, cards.text_message(str(payload["text"])))
        elif message.method == notices.DIRECT:
            await self._direct(case, str(payload["person"]), str(payload["text"]))
        elif message.method == notices.REPORTER:
            await self._reporter(case, payload)
        else:
            raise DeliveryError(f"unknown Teams notice {message.method}", permanent=True)

    # --- where to post -----------------------------------------------------------------------

    async def _reference(self, conversation_id: str) -> TeamsConversation:
        """The conversation's reference, else one of the same bot (its service URL will do)."""
        found = await self._store.teams_conversation(conversation_id)
        if found is not None:
            return found
        latest = await self._store.latest_teams_conversation()
        if latest is None:
            raise DeliveryError(
                f"no Teams conversation reference yet to reach {conversation_id}: add the app "
                "to the team (or message the bot) so Teams tells it where to post"
            )
        return latest

    def _triage_channel(self, case: Case) -> str | None:
        system = self._routing.system(case.system_id)
        return system.triage.teams_channel if system else None

    # --- the card and its thread -------------------------------------------------------------

    async def _card(self, case: Case, may_post: bool) -> None:
        assert case.id is not None
        read = _READ.get()
        ahead = None if isinstance(read, Unread) else read.reports
        reports = ahead if ahead is not None else await self._store.reports_of(case.id)
        posted = await self._card_of(case.id)
        thread = thread_link(posted.conversation_id, posted.message_id) if posted else None
        activity = cards.card_message(
            case_card(case, reports, self._routing, thread=thread),
            case_summary(case, self._routing),
        )
        if posted is not None:
            where = await self._reference(posted.conversation_id)
            await self._connector.update(
                where.service_url, posted.conversation_id, posted.message_id, activity
            )
            return
        channel = self._triage_channel(case)
        if channel is None:
            return  # this system triages elsewhere
        if not may_post:
            raise DeliveryError("the Teams card is not posted yet")
        where = await self._reference(channel)
        activity_id = await self._connector.send(where.service_url, channel, activity)
        if not activity_id:
            raise DeliveryError("the Bot Connector gave the card no id", permanent=True)
        await self._store.record_card(case.id, TEAMS, channel, activity_id)
        self._recorded[case.id] = CardLocation(
            case_id=case.id,
            platform=TEAMS,
            conversation_id=channel,
            message_id=activity_id,
            posted_at=self._clock.now(),
        )
        while len(self._recorded) > KEPT:
            self._recorded.popitem(last=False)

    async def _card_of(self, case_id: int) -> CardLocation | None:
        """Where the case's Teams card is: as read for the batch (or posted since by this
        process), else read now."""
        read = _READ.get()
        if isinstance(read, Unread):
            return await self._store.card_of(case_id, TEAMS)
        return read.card or self._recorded.get(case_id)

    async def _thread(self, case: Case, activity: dict[str, Any]) -> None:
        posted = await self._posted(case)
        if posted is None:
            return
        where = await self._reference(posted.conversation_id)
        await self._connector.reply(
            where.service_url, posted.conversation_id, posted.message_id, activity
        )

    async def _posted(self, case: Case) -> CardLocation | None:
        """The case's card; None if it has none in Teams; raises to retry if not posted yet."""
        assert case.id is not None
        posted = await self._card_of(case.id)
        if posted is None and self._triage_channel(case) is not None:
            raise DeliveryError("the Teams card is not posted yet")
        return posted

    # --- people ------------------------------------------------------------------------------

    async def _direct(self, case: Case, person_id: str, text: str) -> None:
        user_id = await self._directory.teams_user(person_id)
        if user_id is None:
            # Said in the case's thread instead, where those working the case see it; with
            # no thread in Teams, dead-lettered (`loopkeeper outbox --dead` lists it).
            if await self._posted(case) is None:
                raise DeliveryError(f"{person_id} has no Teams account we can find", permanent=True)
            await self._thread(case, unreached_message(self._routing.name_of(person_id), text))
            log.warning("%s has no Teams account we can find: said in the case's thread", person_id)
            return
        known = await self._store.teams_user(user_id)  # an Entra object id → their Teams id
        user_id = known.user_id if known else user_id
        name = self._routing.name_of(person_id)
        await self._to_user(case, user_id, name, cards.text_message(text), text)

    async def _reporter(self, case: Case, payload: dict[str, Any]) -> None:
        key = str(payload["reporter"]).removeprefix("teams:")
        user = await self._store.teams_user(key)
        user_id = user.user_id if user else (key if key.startswith("29:") else None)
        if user_id is None:
            raise DeliveryError(f"no Teams user known for reporter {key}", permanent=True)
        text = str(payload["text"])
        if payload.get("ask"):
            activity = cards.card_message(cards.answer_card(case, text), text[:200])
            fallback = text + " Reply in this thread to answer."
        else:
            activity = cards.text_message(text)
            fallback = text
        await self._to_user(
            case, user_id, (user.name if user else None) or "there", activity, fallback
        )

    async def _to_user(
        self, case: Case, user_id: str, name: str, activity: dict[str, Any], fallback: str
    ) -> None:
        """A 1:1 message where the bot has (or can open) a chat with them, else an @mention
        in the case's thread."""
        personal = await self._personal(user_id)
        if personal is not None:
            await self._connector.send(personal.service_url, personal.id, activity)
            return
        if await self._posted(case) is None:
            raise DeliveryError(
                f"cannot reach {name} in Teams: no 1:1 chat with the bot and no case thread "
                "to mention them in",
                permanent=True,
            )
        await self._thread(case, cards.text_message(fallback, mentions=[(user_id, name)]))

    async def _personal(self, user_id: str) -> TeamsConversation | None:
        """The 1:1 chat with a user: stored, or opened now if they have talked to the bot."""
        found = await self._store.personal_teams_conversation(user_id)
        if found is not None:
            return found
        user = await self._store.teams_user(user_id)
        if user is None:
            return None  # never heard from them: the bot may not be installed for them
        conversation_id = await self._connector.create_personal(
            user.service_url, user.tenant_id, user.bot_id, user.user_id
        )
        personal = TeamsConversation(
            id=conversation_id,
            kind="personal",
            service_url=user.service_url,
            tenant_id=user.tenant_id,
            bot_id=user.bot_id,
            user_id=user.user_id,
            updated_at=self._clock.now(),
        )
        await self._store.save_teams_conversation(personal)
        return personal

    # --- channel posts -----------------------------------------------------------------------

    async def _post(self, conversation_id: str, activity: dict[str, Any]) -> None:
        where = await self._reference(conversation_id)
        await self._connector.send(where.service_url, conversation_id, activity)
