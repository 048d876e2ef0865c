"""Teams triage: Action.Execute verbs on the case card (`adaptiveCard/action`), the reporter's
answer card, and replies in a case card's thread. Same service calls as Slack's listeners."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.core.lifecycle import IllegalTransition, NotAllowed
from bot.core.models import CaseStatus, Role
from bot.core.ports import CaseCardStore, Clock
from bot.core.routing_rules import Routing
from bot.core.triage import CaseNotFound, Outcome, TriageService
from handlers.teams import cards
from handlers.teams.case_card import case_card, thread_link
from handlers.teams.directory import TeamsDirectory
from handlers.teams.notices import post_message
from handlers.teams.parse import base_conversation_id, html_text, sender_key, thread_root
from handlers.teams.records import TEAMS

log = logging.getLogger(__name__)

REFUSALS = (IllegalTransition, NotAllowed, CaseNotFound)
_CASE_NUMBER = re.compile(r"^\s*#?(\d+)\s*$")
_AT_TAG = re.compile(r"<at>.*?</at>", re.S)


class TeamsTriage:
    def __init__(
        self,
        routing: Routing,
        triage: TriageService,
        store: CaseCardStore,
        directory: TeamsDirectory,
        clock: Clock,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self.routing = routing
        self.triage = triage
        self.store = store
        self.directory = directory
        self.clock = clock
        self.on_enqueued = on_enqueued

    async def on_action(self, activity: dict[str, Any]) -> dict[str, Any]:
        """An Action.Execute on a card: answer with the refreshed card, or say why not."""
        value = _dict(activity.get("value"))
        action = _dict(value.get("action"))
        verb = str(action.get("verb") or "")
        data = _dict(action.get("data"))
        if action.get("type") != "Action.Execute" or verb not in cards.VERBS:
            log.info("ignoring card action %r", verb or action.get("type"))
            return cards.invoke_message("loopkeeper doesn't know that action.")
        match = _CASE_NUMBER.match(str(data.get("case", "")))
        if match is None:
            return cards.invoke_message("This card names no case.")
        case_id = int(match[1])
        if verb == cards.ANSWER:
            return await self._answer(activity, case_id, data)
        if verb == cards.REFRESH:
            return await self._card(case_id)
        try:
            actor = await self.directory.person_for(activity)
            refusal = await self._apply(verb, case_id, data, actor)
        except REFUSALS as error:
            return cards.invoke_message(str(error))
        if refusal is not None:
            return cards.invoke_message(refusal)
        if data.get("surge") is not None:  # on a surge card: keep it (the outbox refreshes it)
            return cards.invoke_message(f"Case #{case_id}: {verb} done; the surge card follows.")
        return await self._card(case_id)

    async def _apply(
        self, verb: str, case_id: int, data: dict[str, Any], actor: str | None
    ) -> str | None:
        """Run the verb; a message for the user when their input is not usable."""
        outcome: Outcome | None = None
        if verb == cards.ACKNOWLEDGE:
            outcome = await self.triage.acknowledge(case_id, actor)
        elif verb == cards.RESOLVE:
            reason = _text(data, cards.RESOLVE_REASON) or "other"
            outcome = await self.triage.resolve(
                case_id, actor, reason, _text(data, cards.RESOLVE_NOTE)
            )
        elif verb == cards.WONT_FIX:
            reason = _text(data, cards.WONT_FIX_REASON)
            if not reason:
                return "Say why it won't be fixed."
            outcome = await self.triage.wont_fix(case_id, actor, reason)
        elif verb == cards.NEEDS_INFO:
            question = _text(data, cards.QUESTION)
            if not question:
                return "Write the question for the reporters."
            outcome = await self.triage.ask(case_id, actor, question)
        elif verb == cards.DUPLICATE:
            number = _CASE_NUMBER.match(_text(data, cards.ORIGINAL))
            if number is None:
                return "Give a case number, like 42."
            outcome = await self.triage.mark_duplicate(case_id, actor, int(number[1]))
        elif verb == cards.REASSIGN:
            person = _text(data, cards.REASSIGN_PERSON) or None
            chosen_role = _text(data, cards.REASSIGN_ROLE) or None
            if person is not None and self.routing.person(person) is None:
                return "That person isn't in routing.yaml; choose someone who is, or a role."
            if chosen_role is not None and chosen_role not in Role.__members__:
                return "Choose a role from the list."
            if person is None and chosen_role is None:
                return "Choose a person or a role."
            role = Role(chosen_role) if chosen_role else None
            outcome = await self.triage.reassign(case_id, actor, person=person, role=role)
        return None if outcome is not None else "loopkeeper doesn't know that action."

    async def _card(self, case_id: int) -> dict[str, Any]:
        case = await self.store.get_case(case_id)
        if case is None:
            return cards.invoke_message(f"There is no case #{case_id}.")
        reports = await self.store.reports_of(case_id)
        posted = await self.store.card_of(case_id, TEAMS)
        thread = thread_link(posted.conversation_id, posted.message_id) if posted else None
        return cards.invoke_card(case_card(case, reports, self.routing, thread=thread))

    async def _answer(
        self, activity: dict[str, Any], case_id: int, data: dict[str, Any]
    ) -> dict[str, Any]:
        """A reporter answers the owner's question from the card in their 1:1 chat."""
        text = _text(data, cards.ANSWER_TEXT)
        if not text:
            return cards.invoke_message("Write your answer.")
        reporter_id = f"teams:{sender_key(activity.get('from') or {})}"
        try:
            outcome = await self.triage.answer(case_id, reporter_id, text)
        except REFUSALS as error:
            return cards.invoke_message(str(error))
        return cards.invoke_card(cards.answered_card(outcome.case, text))

    async def on_message(self, activity: dict[str, Any]) -> None:
        """A person's reply in a case card's thread goes on the case timeline (or, from a
        reporter while the owner waits for information, answers the question). Anything said
        to the bot in its 1:1 chat gets the help."""
        sender = activity.get("from") or {}
        if sender.get("role") == "bot" or str(sender.get("id", "")).startswith("28:"):
            return
        conversation = str((activity.get("conversation") or {}).get("id") or "")
        if (activity.get("conversation") or {}).get("conversationType") == "personal":
            await self._help(activity, conversation)
            return
        root = thread_root(conversation) or activity.get("replyToId")
        if not conversation or not root:
            return
        case = await self.store.case_for_card(TEAMS, base_conversation_id(conversation), str(root))
        if case is None or case.id is None:
            return
        text = html_text(_AT_TAG.sub("", str(activity.get("text") or ""))).strip()
        if not text:
            return
        reporter_id = f"teams:{sender_key(sender)}"
        if case.status is CaseStatus.needs_info:
            try:
                await self.triage.answer(case.id, reporter_id, text)
                return
            except NotAllowed:
                pass  # not a reporter: an ordinary comment
        person = await self.directory.person_for(activity)
        await self.triage.comment(case.id, person or reporter_id, text)

    async def _help(self, activity: dict[str, Any], conversation: str) -> None:
        """What loopkeeper does and how to use it in Teams, as a reply in the 1:1 chat."""
        if not conversation:
            return
        reply = post_message(
            f"help:{conversation}:{activity.get('id') or activity.get('timestamp')}",
            conversation,
            cards.text_message(cards.help_text(self.routing)),
            self.clock.now(),
        )
        async with self.store.transaction() as tx:
            queued = await tx.enqueue(reply)
        if queued and self.on_enqueued is not None:
            self.on_enqueued()


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return str(value).strip() if value is not None else ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
