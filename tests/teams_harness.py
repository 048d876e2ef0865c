"""The bot under test with Teams: Slack faked as in tests/harness.py, the Bot Connector faked by
tests/support/fake_connector.py, and Activity JSON posted to the real POST /api/messages.

Import the fixtures into a test module: `from tests.teams_harness import connector, teams_bot`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from bot.core.routing_rules import Routing
from tests.harness import INGEST_TOKEN, ROUTING_FILE, SIGNING_SECRET, BotUnderTest, now_utc
from tests.support.fake_connector import FakeConnector, card_of
from tests.support.fake_slack import BOT_TOKEN, FakeSlack

TRIAGE = "19:triage@thread.tacv2"
HELPERS = "19:helpers@thread.tacv2"
CONDUCT = "19:conduct@thread.tacv2"
CHAT = "19:chat-with-the-assistant@thread.v2"
SUPPORT_BOT = "28:support-bot"
HELPER_BOT = "28:teams-helper"
LOOPKEEPER = "28:loopkeeper-bot"
TENANT = "tenant-1"
TEAM = "19:team-general@thread.tacv2"

_ids = itertools.count(1)


def teams_routing(path: Path) -> Routing:
    """The Slack tests' routing, plus Teams: support-assistant triages in both; a Teams-only
    system with a Teams-only owner; people known only by e-mail; a Teams digest channel."""
    data = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    data["people"]["erin"] = {"name": "Erin", "email": "erin@example.com", "teams": "29:1erin"}
    data["people"]["frank"] = {"name": "Frank", "email": "frank@example.com"}
    support = data["systems"][0]
    support["match"]["teams_bot_ids"] = [SUPPORT_BOT]
    support["triage"]["teams_channel"] = TRIAGE
    data["systems"].append(
        {
            "id": "teams-helper",
            "name": "Teams Helper",
            "match": {"teams_bot_ids": [HELPER_BOT]},
            "owners": {
                "validation": "erin",
                "governance": "frank",
                "prompt": "erin",
                "conductor": "carol",
            },
            "triage": {"teams_channel": HELPERS},
            "escalation": [
                {"after": "0m", "notify": "owner"},
                {"after": "4h", "notify": "governance"},
            ],
        }
    )
    data["digests"][0]["teams_channel"] = CONDUCT
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_routing(path)


def account(name: str) -> dict[str, Any]:
    """A Teams user as activities name them (`from`)."""
    return {"id": f"29:1{name}", "aadObjectId": f"aad-{name}", "name": name.capitalize()}


def ai_message(
    text: str,
    *,
    bot: str = SUPPORT_BOT,
    message_id: str | None = None,
    meta: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A message an AI app posted, as a message extension's `messagePayload` carries it."""
    message_id = message_id or f"16{next(_ids):011d}"
    payload: dict[str, Any] = {
        "id": message_id,
        "messageType": "message",
        "createdDateTime": "2026-11-20T10:00:00.000Z",
        "from": {
            "user": None,
            "application": {"id": bot, "displayName": "AI", "applicationIdentityType": "bot"},
        },
        "body": {"contentType": "html", "content": f"<p>{text}</p>"},
        "attachments": [],
        "linkToMessage": f"https://teams.microsoft.com/l/message/{CHAT}/{message_id}",
    }
    if meta is not None:
        payload["attachments"].append(
            {
                "id": "meta",
                "contentType": "application/vnd.loopkeeper.ai-output+json",
                "content": json.dumps(meta),
            }
        )
    return payload


@dataclass
class TeamsBotUnderTest(BotUnderTest):
    connector: FakeConnector

    def activity(
        self,
        kind: str,
        sender: dict[str, Any],
        conversation: str,
        *,
        conversation_type: str = "channel",
        **fields: Any,
    ) -> dict[str, Any]:
        activity: dict[str, Any] = {
            "type": kind,
            "id": f"f:{uuid.uuid4()}",
            "timestamp": self.clock.now().isoformat(),
            "serviceUrl": self.connector.url,
            "channelId": "msteams",
            "from": sender,
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "tenantId": TENANT,
                "isGroup": conversation_type != "personal",
            },
            "recipient": {"id": LOOPKEEPER, "name": "loopkeeper"},
            "channelData": {"tenant": {"id": TENANT}},
        }
        if conversation_type == "channel":
            activity["channelData"]["team"] = {"id": TEAM, "name": "AI Ops"}
            activity["channelData"]["channel"] = {"id": conversation.split(";")[0]}
        activity.update(fields)
        return activity

    async def post_activity(
        self,
        activity: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        response = await self.http.post(
            f"{self.base_url}/api/messages",
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        body = await response.read()
        parsed = json.loads(body) if body else None
        return response.status, parsed

    async def invoke(
        self,
        name: str,
        sender: dict[str, Any],
        value: dict[str, Any],
        conversation: str = CHAT,
        **fields: Any,
    ) -> tuple[int, Any]:
        kind = "groupChat" if conversation == CHAT else "channel"
        if conversation.startswith("a:"):
            kind = "personal"
        activity = self.activity(
            "invoke", sender, conversation, conversation_type=kind, name=name, value=value, **fields
        )
        return await self.post_activity(activity)

    async def fetch_task(
        self, sender: dict[str, Any], message: dict[str, Any], conversation: str = CHAT
    ) -> tuple[int, Any]:
        value = {"commandId": "reportAiOutput", "commandContext": "message"}
        return await self.invoke(
            "composeExtension/fetchTask", sender, {**value, "messagePayload": message}, conversation
        )

    async def submit_report(
        self,
        sender: dict[str, Any],
        message: dict[str, Any] | None,
        data: dict[str, str],
        conversation: str = CHAT,
        activity_id: str | None = None,
    ) -> tuple[int, Any]:
        value: dict[str, Any] = {
            "commandId": "reportAiOutput",
            "commandContext": "message",
            "data": data,
            "context": {"theme": "default"},
        }
        if message is not None:
            value["messagePayload"] = message
        fields = {"id": activity_id} if activity_id else {}
        return await self.invoke(
            "composeExtension/submitAction", sender, value, conversation, **fields
        )

    async def feedback(
        self,
        sender: dict[str, Any],
        reply_to: str,
        reaction: str,
        text: str | None = None,
        conversation: str = CHAT,
    ) -> tuple[int, Any]:
        action_value: dict[str, Any] = {"reaction": reaction}
        if text is not None:
            action_value["feedback"] = json.dumps({"feedbackText": text})
        return await self.invoke(
            "message/submitAction",
            sender,
            {"actionName": "feedback", "actionValue": action_value},
            conversation,
            replyToId=reply_to,
        )

    async def execute(
        self,
        sender: dict[str, Any],
        verb: str,
        case_id: int,
        inputs: dict[str, Any] | None = None,
        conversation: str = TRIAGE,
    ) -> tuple[int, Any]:
        """Press an Action.Execute on a card (inputs as the card gathers them)."""
        value = {
            "action": {
                "type": "Action.Execute",
                "verb": verb,
                "data": {"case": case_id, **(inputs or {})},
            },
            "trigger": "manual",
        }
        return await self.invoke("adaptiveCard/action", sender, value, conversation)

    async def say(
        self, sender: dict[str, Any], conversation: str, text: str, **fields: Any
    ) -> tuple[int, Any]:
        kind = "personal" if conversation.startswith("a:") else "channel"
        activity = self.activity(
            "message", sender, conversation, conversation_type=kind, text=text, **fields
        )
        return await self.post_activity(activity)

    async def install(self, conversation: str) -> tuple[int, Any]:
        """The app added to a channel's team: Teams tells the bot where that channel is."""
        activity = self.activity(
            "conversationUpdate",
            account("admin"),
            conversation,
            membersAdded=[{"id": LOOPKEEPER}],
        )
        return await self.post_activity(activity)

    def latest_card(self, conversation: str, activity_id: str) -> dict[str, Any]:
        """The card as Teams shows it now: the last update of the post, else the post."""
        for sent in reversed(self.connector.to(conversation)):
            if sent.activity_id == activity_id and sent.kind in ("send", "update"):
                card = card_of(sent.activity)
                if card is not None:
                    return card
        raise AssertionError(f"no card {activity_id} in {conversation}")


def card_texts(card: dict[str, Any]) -> str:
    """Every word on a card (text blocks and fact values), for assertions."""
    words: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    words.append(node[key])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card.get("body"))
    return "\n".join(words)


def card_verbs(card: dict[str, Any]) -> list[str]:
    """The Action.Execute verbs a card offers (including those inside show-cards)."""
    verbs: list[str] = []

    def walk(actions: list[dict[str, Any]]) -> None:
        for action in actions:
            if action.get("type") == "Action.Execute":
                verbs.append(str(action["verb"]))
            if action.get("type") == "Action.ShowCard":
                walk(action["card"].get("actions") or [])

    walk(card.get("actions") or [])
    return verbs


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()


@contextlib.asynccontextmanager
async def running_teams_bot(
    database_url: str, slack: FakeSlack, connector: FakeConnector, tmp_path: Path, **settings: Any
) -> AsyncIterator[TeamsBotUnderTest]:
    """The bot with Slack and Teams (local emulator mode: no app id, requests from 127.0.0.1);
    `settings` add to or override the defaults (e.g. `public_url=...`)."""
    clock = ManualClock(now_utc())
    defaults: dict[str, Any] = {
        "database_url": database_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.url,
        "ingest_token": INGEST_TOKEN,
        "pacing": "off",  # as in tests/harness.py: on in the pacing tests only
    }
    configured = Settings(_env_file=None, **(defaults | settings))  # type: ignore[call-arg]
    routing = teams_routing(tmp_path / "routing.yaml")
    runtime = await build_runtime(configured, routing, clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield TeamsBotUnderTest(
                runtime, slack, clock, str(server.make_url("")).rstrip("/"), http, connector
            )
    finally:
        await server.close()
        await runtime.close()


@contextlib.asynccontextmanager
async def slack_off_bot(
    database_url: str, connector: FakeConnector, routing: Routing
) -> AsyncIterator[TeamsBotUnderTest]:
    """The bot with Teams only (emulator mode), over `routing`."""
    clock = ManualClock(now_utc())
    # Pacing off, as in tests/harness.py: the clock stands still unless a test moves it.
    settings = Settings(_env_file=None, database_url=database_url, pacing="off")  # type: ignore[call-arg]
    runtime = await build_runtime(settings, routing, clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            base = str(server.make_url("")).rstrip("/")
            yield TeamsBotUnderTest(runtime, FakeSlack(), clock, base, http, connector)
    finally:
        await server.close()
        await runtime.close()


@pytest.fixture
async def teams_bot(
    database_url: str, slack: FakeSlack, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    """The bot with Slack and Teams (local emulator mode: no app id, requests from 127.0.0.1)."""
    async with running_teams_bot(database_url, slack, connector, tmp_path) as bot:
        yield bot
