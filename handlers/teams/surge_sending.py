"""Teams surge notices: post and update a surge card, DM its owners, and carry the notices of
a case folded into a surge (no card of its own) through the surge card instead. Mixed into
`TeamsSender`, whose conversation references and 1:1 chats it uses."""

from __future__ import annotations

from typing import Any

from bot.core.models import OutboundMessage
from bot.core.outbox import DeliveryError
from bot.core.routing_rules import Routing
from bot.core.surge_record import SurgeRecord
from bot.core.surge_summary import summarise
from handlers.teams import cards, notices
from handlers.teams.connector import BotConnector
from handlers.teams.directory import TeamsDirectory
from handlers.teams.records import TEAMS, TeamsConversation, TeamsDelivery
from handlers.teams.surge_card import surge_card, surge_summary_line

FOLDABLE = (notices.CARD, notices.THREAD, notices.DIRECT)


class SurgeSending:
    _routing: Routing
    _store: TeamsDelivery
    _connector: BotConnector
    _directory: TeamsDirectory

    async def _reference(self, conversation_id: str) -> TeamsConversation:
        raise NotImplementedError  # TeamsSender's

    async def _personal(self, user_id: str) -> TeamsConversation | None:
        raise NotImplementedError  # TeamsSender's

    async def _surge_notice(self, message: OutboundMessage) -> bool:
        """Deliver `message` if it is a surge notice or about a folded case; False if not."""
        payload = message.payload
        if message.method in (notices.SURGE_CARD, notices.SURGE_DIRECT):
            surge = await self._store.get_surge(int(payload["surge_id"]))  # type: ignore[call-overload]
            if surge is None:
                return True
            if message.method == notices.SURGE_CARD:
                await self._surge_card(surge, bool(payload.get("post")))
            else:
                await self._surge_direct(surge, str(payload["person"]), str(payload["text"]))
            return True
        if message.method not in FOLDABLE or not self._routing.surge:
            return False
        case_id = int(payload["case_id"])  # type: ignore[call-overload]
        surge = await self._store.folded_into(case_id)
        if surge is None:
            return False
        if message.method == notices.CARD:
            await self._surge_card(surge, post=False)
        elif message.method == notices.THREAD:
            await self._surge_reply(
                surge, cards.text_message(f"Case #{case_id}: {payload['text']}")
            )
        else:
            await self._surge_direct(surge, str(payload["person"]), str(payload["text"]))
        return True

    def _surge_channel(self, surge: SurgeRecord) -> str | None:
        system = self._routing.system(surge.system_id)
        return system.triage.teams_channel if system else None

    async def _surge_card(self, surge: SurgeRecord, post: bool) -> None:
        channel = self._surge_channel(surge)
        if channel is None:
            return
        summary = summarise(surge, await self._store.surge_cases(surge.stored_id), self._routing)
        activity = cards.card_message(
            surge_card(summary, self._routing), surge_summary_line(summary)
        )
        posted = await self._store.surge_card_of(surge.stored_id, TEAMS)
        if posted is not None:
            where = await self._reference(posted[0])
            await self._connector.update(where.service_url, posted[0], posted[1], activity)
            return
        if not post:
            raise DeliveryError("the Teams surge card is not posted yet")
        where = await self._reference(channel)
        activity_id = await self._connector.send(where.service_url, channel, activity)
        if not activity_id:
            raise DeliveryError("the Bot Connector gave the surge card no id", permanent=True)
        await self._store.record_surge_card(surge.stored_id, TEAMS, channel, activity_id)

    async def _surge_reply(self, surge: SurgeRecord, activity: dict[str, Any]) -> None:
        posted = await self._store.surge_card_of(surge.stored_id, TEAMS)
        if posted is None:
            if self._surge_channel(surge) is not None:
                raise DeliveryError("the Teams surge card is not posted yet")
            return
        where = await self._reference(posted[0])
        await self._connector.reply(where.service_url, posted[0], posted[1], activity)

    async def _surge_direct(self, surge: SurgeRecord, person_id: str, text: str) -> None:
        user_id = await self._directory.teams_user(person_id)
        if user_id is None:
            raise DeliveryError(f"{person_id} has no Teams account we can find", permanent=True)
        known = await self._store.teams_user(user_id)
        user_id = known.user_id if known else user_id
        personal = await self._personal(user_id)
        name = self._routing.name_of(person_id)
        if personal is not None:
            await self._connector.send(personal.service_url, personal.id, cards.text_message(text))
            return
        # No 1:1 chat with them: @mention them in the surge card's thread instead.
        await self._surge_reply(surge, cards.text_message(text, mentions=[(user_id, name)]))
