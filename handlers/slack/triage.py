"""Bolt listeners for triage: card buttons, their modals, answers, replies in case threads."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import IllegalTransition, NotAllowed
from bot.models import Role
from bot.ports import CaseStore, Directory
from bot.routing import Routing
from bot.sla import sla_state
from bot.triage import CaseNotFound, TriageService
from handlers.slack import budget, card
from handlers.slack.mrkdwn import escape, shorten
from handlers.slack.parse import reporter

log = logging.getLogger(__name__)

REFUSALS = (IllegalTransition, NotAllowed, CaseNotFound)
_CASE_NUMBER = re.compile(r"^\s*#?(\d+)\s*$")


class SlackTriage:
    def __init__(
        self,
        routing: Routing,
        triage: TriageService,
        store: CaseStore,
        directory: Directory,
    ) -> None:
        self.routing = routing
        self.triage = triage
        self.store = store
        self.directory = directory

    def register(self, app: AsyncApp) -> None:
        app.action(card.ACK)(self.on_acknowledge)
        for action in (card.RESOLVE, card.REASSIGN, card.NEEDS_INFO, card.WONT_FIX, card.DUPLICATE):
            app.action(action)(self.on_open_modal)
            app.view_submission(action + card.MODAL_SUFFIX)(self.on_modal_submitted)
        app.action(card.ANSWER)(self.on_answer_button)
        app.view_submission(card.ANSWER + card.MODAL_SUFFIX)(self.on_answer_submitted)
        app.event("message")(self.on_message)

    async def _actor(self, user_id: str) -> str | None:
        return await self.directory.person_for_slack_user(user_id)

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
        await ack()
        actor = await self._actor(body["user"]["id"])
        try:
            await self.triage.acknowledge(int(action["value"]), actor)
        except REFUSALS as refusal:
            await self._tell(client, body, str(refusal))

    async def on_open_modal(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        case = await self.store.get_case(int(action["value"]))
        if case is None:
            await self._tell(client, body, f"There is no case #{action['value']}.")
            return
        try:
            self.triage.can_change(case, await self._actor(body["user"]["id"]))
        except NotAllowed as refusal:
            await self._tell(client, body, str(refusal))
            return
        channel = (body.get("channel") or {}).get("id")
        view = card.triage_modal(action["action_id"], case, self.routing, channel)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_modal_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        action = view["callback_id"].removesuffix(card.MODAL_SUFFIX)
        case_id = int(json.loads(view["private_metadata"])["case"])
        values = _values(view)
        actor = await self._actor(body["user"]["id"])
        first_block = {
            card.RESOLVE: "reason",
            card.REASSIGN: "person",
            card.NEEDS_INFO: "question",
            card.WONT_FIX: "reason",
            card.DUPLICATE: "original",
        }[action]
        try:
            if action == card.RESOLVE:
                await self.triage.resolve(
                    case_id, actor, values.get("reason") or "other", values.get("note") or ""
                )
            elif action == card.WONT_FIX:
                await self.triage.wont_fix(case_id, actor, values.get("reason") or "")
            elif action == card.NEEDS_INFO:
                await self.triage.ask(case_id, actor, values.get("question") or "")
            elif action == card.DUPLICATE:
                match = _CASE_NUMBER.match(values.get("original") or "")
                if match is None:
                    await ack(
                        response_action="errors",
                        errors={"original": "Give a case number, like 42."},
                    )
                    return
                await self.triage.mark_duplicate(case_id, actor, int(match[1]))
            elif action == card.REASSIGN:
                person = None
                if values.get("person"):
                    person = await self._actor(str(values["person"]))
                    if person is None:
                        await ack(
                            response_action="errors",
                            errors={
                                "person": "That person isn't in routing.yaml; "
                                "choose someone who is, or a role."
                            },
                        )
                        return
                chosen_role = values.get("role")
                role = Role(chosen_role) if chosen_role else None
                if person is None and role is None:
                    await ack(
                        response_action="errors", errors={"person": "Choose a person or a role."}
                    )
                    return
                await self.triage.reassign(case_id, actor, person=person, role=role)
        except REFUSALS as refusal:
            await ack(response_action="errors", errors={first_block: str(refusal)})
            return
        await ack()

    async def on_answer_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        case = await self.store.get_case(int(action["value"]))
        if case is None:
            return
        view = card.triage_modal(card.ANSWER, case, self.routing, None)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

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
        case = await self.store.case_for_card(channel, thread)
        if case is None or case.id is None:
            return
        person = await self._actor(str(event.get("user")))
        author = person or f"slack:{event.get('user')}"
        await self.triage.comment(case.id, author, str(event.get("text") or ""))


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
