"""Bolt listeners for triage: card buttons, their modals, answers, replies in case threads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.background import Background, Later
from bot.core.lifecycle import IllegalTransition, NotAllowed
from bot.core.models import Case, Role
from bot.core.mrkdwn import escape, shorten
from bot.core.ports import CaseCards, Directory
from bot.core.routing_rules import Routing
from bot.core.sla import sla_state
from bot.core.triage import CaseNotFound, TriageService
from handlers.slack import budget, card
from handlers.slack.directory import SLACK
from handlers.slack.parse import reporter
from handlers.slack.window import ANSWER_BUDGET, LOOKUP_BUDGET, open_modal

log = logging.getLogger(__name__)

REFUSALS = (IllegalTransition, NotAllowed, CaseNotFound)
_CASE_NUMBER = re.compile(r"^\s*#?(\d+)\s*$")


class SlackTriage:
    def __init__(
        self,
        routing: Routing,
        triage: TriageService,
        store: CaseCards,
        directory: Directory,
        *,
        background: Background,
    ) -> None:
        self.routing = routing
        self.triage = triage
        self.store = store
        self.directory = directory
        self.background = background  # who clicked (users.info) and answers: after the ack

    def register(self, app: AsyncApp) -> None:
        app.action(card.ACK)(self.on_acknowledge)
        for action in (card.RESOLVE, card.REASSIGN, card.NEEDS_INFO, card.WONT_FIX, card.DUPLICATE):
            app.action(action)(self.on_open_modal)
            app.view_submission(action + card.MODAL_SUFFIX)(self.on_modal_submitted)
        app.action(card.ANSWER)(self.on_answer_button)
        app.view_submission(card.ANSWER + card.MODAL_SUFFIX)(self.on_answer_submitted)
        app.event("message")(self.on_message)

    async def _actor(self, user_id: str) -> str | None:
        return await self.directory.person_behind(SLACK, user_id)

    async def _tell(self, client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
        """An ephemeral answer to whoever pressed a button."""
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        if channel and not str(channel).startswith("D"):
            await client.chat_postEphemeral(channel=channel, user=user, text=escape(text))
        else:
            await client.chat_postMessage(channel=user, text=escape(text))

    async def on_acknowledge(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        async def tell_later(refusal: str | None) -> None:
            if refusal:
                await self._tell(client, body, refusal)

        # Committed before the ack when who clicked is known without asking Slack (a database
        # fault then answers 5xx, as before); after it when a users.info call is needed.
        refusal = await self.background.answer_or_later(
            self._acknowledge(body, action), ANSWER_BUDGET, tell_later, "acknowledging a case"
        )
        await ack()
        if isinstance(refusal, str):
            self.background.spawn(self._tell(client, body, refusal), "answering a card button")

    async def _acknowledge(self, body: dict[str, Any], action: dict[str, Any]) -> str | None:
        """Acknowledge the case; the refusal to tell whoever clicked, if any."""
        actor = await self._actor(body["user"]["id"])
        try:
            await self.triage.acknowledge(int(action["value"]), actor)
        except REFUSALS as refusal:
            return str(refusal)
        return None

    async def on_open_modal(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        case = await self.store.get_case(int(action["value"]))
        await ack()
        if case is None:
            text = f"There is no case #{action['value']}."
            self.background.spawn(self._tell(client, body, text), "answering a card button")
            return
        channel = (body.get("channel") or {}).get("id")
        view = card.triage_modal(action["action_id"], case, self.routing, channel)
        self.background.spawn(
            self._open_if_allowed(client, body, case, view), f"opening {action['action_id']}"
        )

    async def _open_if_allowed(
        self, client: AsyncWebClient, body: dict[str, Any], case: Case, view: dict[str, Any]
    ) -> None:
        """Someone who may not change the case is told so instead of getting a form; but the
        trigger expires 3 s after the click, so when learning who clicked takes longer than
        LOOKUP_BUDGET the modal opens at once and turns into the refusal if it must."""
        lookup = asyncio.ensure_future(self._actor(body["user"]["id"]))
        try:
            await asyncio.wait({lookup}, timeout=LOOKUP_BUDGET)
            if lookup.done():
                try:
                    self.triage.can_change(case, lookup.result())
                except NotAllowed as refusal:
                    await self._tell(client, body, str(refusal))
                    return
                await client.views_open(trigger_id=body["trigger_id"], view=view)
                return
            opened = await client.views_open(trigger_id=body["trigger_id"], view=view)
            actor = await lookup
        finally:
            if not lookup.done():
                lookup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lookup
        try:
            self.triage.can_change(case, actor)
        except NotAllowed as refusal:
            shown = opened.get("view") or {}
            await client.views_update(
                view_id=shown.get("id"), hash=shown.get("hash"), view=_refusal_view(str(refusal))
            )

    async def on_modal_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        async def tell_later(errors: dict[str, str] | None) -> None:
            if errors:
                await self._tell(client, body, " ".join(errors.values()))

        # Who submitted may take a users.info call: a refusal goes in the modal when it is
        # known quickly, else the modal closes and the refusal follows as a message.
        errors = await self.background.answer_or_later(
            self._submit(body, view), ANSWER_BUDGET, tell_later, "a triage modal"
        )
        if errors is None or isinstance(errors, Later):
            await ack()
        else:
            await ack(response_action="errors", errors=errors)

    async def _submit(self, body: dict[str, Any], view: dict[str, Any]) -> dict[str, str] | None:
        """Carry out a triage modal; the errors to show in it, if any."""
        action = view["callback_id"].removesuffix(card.MODAL_SUFFIX)
        case_id = int(json.loads(view["private_metadata"])["case"])
        values = _values(view)
        first_block = {
            card.RESOLVE: "reason",
            card.REASSIGN: "person",
            card.NEEDS_INFO: "question",
            card.WONT_FIX: "reason",
            card.DUPLICATE: "original",
        }[action]
        duplicate_of = _CASE_NUMBER.match(values.get("original") or "")
        if action == card.DUPLICATE and duplicate_of is None:
            return {"original": "Give a case number, like 42."}
        if action == card.REASSIGN and not values.get("person") and not values.get("role"):
            return {"person": "Choose a person or a role."}
        actor = await self._actor(body["user"]["id"])
        try:
            if action == card.RESOLVE:
                await self.triage.resolve(
                    case_id, actor, values.get("reason") or "other", values.get("note") or ""
                )
            elif action == card.WONT_FIX:
                await self.triage.wont_fix(case_id, actor, values.get("reason") or "")
            elif action == card.NEEDS_INFO:
                await self.triage.ask(case_id, actor, values.get("question") or "")
            elif action == card.DUPLICATE and duplicate_of is not None:
                await self.triage.mark_duplicate(case_id, actor, int(duplicate_of[1]))
            elif action == card.REASSIGN:
                person = None
                if values.get("person"):
                    person = await self._actor(str(values["person"]))
                    if person is None:
                        return {
                            "person": "That person isn't in routing.yaml; "
                            "choose someone who is, or a role."
                        }
                chosen_role = values.get("role")
                role = Role(chosen_role) if chosen_role else None
                await self.triage.reassign(case_id, actor, person=person, role=role)
        except REFUSALS as refusal:
            return {first_block: str(refusal)}
        return None

    async def on_answer_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        case = await self.store.get_case(int(action["value"]))
        await ack()
        if case is None:
            return
        view = card.triage_modal(card.ANSWER, case, self.routing, None)
        open_modal(self.background, client, body.get("trigger_id"), view)

    async def on_answer_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        case_id = int(json.loads(view["private_metadata"])["case"])
        text = (_values(view).get("answer") or "").strip()
        if not text:
            await ack(response_action="errors", errors={"answer": "Write your answer."})
            return
        try:
            await self.triage.answer(case_id, reporter(body["user"]["id"]).id, text)
        except REFUSALS as refusal:
            await ack(response_action="errors", errors={"answer": str(refusal)})
            return
        await ack()

    async def on_message(self, event: dict[str, Any]) -> None:
        """A human reply in a case card's thread goes on the case timeline."""
        thread, channel = event.get("thread_ts"), event.get("channel")
        if not thread or not channel or event.get("bot_id") or event.get("subtype"):
            return
        case = await self.store.case_for_card(SLACK, channel, thread)
        if case is None or case.id is None:
            return
        # Recorded before the ack (a database fault answers 5xx and Slack sends it again),
        # unless who wrote it takes a users.info call: then after it, or Slack sends it again.
        await self.background.answer_or_later(
            self._comment(case.id, event), ANSWER_BUDGET, _nothing_more, "recording a reply"
        )

    async def _comment(self, case_id: int, event: dict[str, Any]) -> None:
        person = await self._actor(str(event.get("user")))
        author = person or f"slack:{event.get('user')}"
        await self.triage.comment(case_id, author, str(event.get("text") or ""))


async def _nothing_more(_: object) -> None:
    return None


def _refusal_view(text: str) -> dict[str, Any]:
    """What a triage modal turns into for someone who may not use it."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Not yours to change"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text[:3000]}}],
    }


def _values(view: dict[str, Any]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        element = actions.get("value") or {}
        kind = element.get("type")
        if kind == "static_select":
            found[block_id] = (element.get("selected_option") or {}).get("value")
        elif kind == "users_select":
            found[block_id] = element.get("selected_user")
        else:
            found[block_id] = element.get("value")
    return found


def cases_text(cases: list[Any], routing: Routing, now: Any) -> str:
    """`/loopkeeper cases`: my open cases, oldest first, with their SLA state."""
    if not cases:
        return "You have no open cases. 🎉"
    lines = ["*Your open cases* (oldest first)"]
    for case in cases:
        category = routing.category(case.category_id)
        system = routing.system(case.system_id)
        lines.append(
            f"• Case #{case.id} · {case.severity.value} · "
            f"{escape(category.label if category else case.category_id, budget.OPTION_TEXT)} · "
            f"{escape(system.name if system else case.system_id, budget.OPTION_TEXT)} · "
            f"{escape(case.status.value)} · {sla_state(case, now)}"
        )
    return shorten("\n".join(lines), budget.MESSAGE_TEXT)
