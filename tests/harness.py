"""The bot under test: a real runtime on an ephemeral port, Slack faked at the network."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app.main import build_runtime
from bot.app.runtime import Runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from bot.core.routing_rules import Routing
from tests.support.bot_settings import INGEST_TOKEN, ROUTING_FILE, SIGNING_SECRET, slack_signature
from tests.support.fake_slack import BOT_TOKEN, FakeSlack

_ids = itertools.count(1)


@dataclass
class BotUnderTest:
    runtime: Runtime
    slack: FakeSlack
    clock: ManualClock
    base_url: str
    http: aiohttp.ClientSession

    @property
    def routing(self) -> Routing:
        return self.runtime.routing

    async def post_signed(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        extra_headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        ts = int(self.clock.now().timestamp()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": slack_signature(body, ts, secret),
            **(extra_headers or {}),
        }
        response = await self.http.post(f"{self.base_url}/slack/events", data=body, headers=headers)
        await response.read()
        return response

    async def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        process: bool = True,
    ) -> aiohttp.ClientResponse:
        envelope = {
            "token": "legacy-unused",
            "team_id": "T0ACME",
            "api_app_id": "A0LOOPKEEPER",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}",
            "event_time": int(self.clock.now().timestamp()),
            "authorizations": [{"team_id": "T0ACME", "user_id": "U0LOOPKEEPER", "is_bot": True}],
        }
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        response = await self.post_signed(
            json.dumps(envelope).encode(), "application/json", extra_headers=headers
        )
        if process:
            await self.runtime.inbox.drain()  # as the inbox worker would, right after the ack
        return response

    async def react(
        self,
        user: str,
        emoji: str,
        channel: str,
        ts: str,
        *,
        event_id: str | None = None,
        process: bool = True,
    ) -> aiohttp.ClientResponse:
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": emoji,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": "U0SOMEONE",
            "event_ts": f"{int(self.clock.now().timestamp())}.{next(_ids):06d}",
        }
        return await self.send_event(event, event_id=event_id, process=process)

    async def interact(
        self, payload: dict[str, Any], *, settle: bool = True
    ) -> aiohttp.ClientResponse:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = await self.post_signed(body, "application/x-www-form-urlencoded")
        if settle:
            await self.settle()
        return response

    async def settle(self) -> None:
        """Let the work that follows an ack finish (a modal opened, a flag filed)."""
        await self.runtime.background.drain()
        await self.runtime.inbox.drain()

    async def command(
        self, user: str, text: str, channel: str = "C0GENERAL", *, settle: bool = True
    ) -> aiohttp.ClientResponse:
        body = urlencode(
            {
                "token": "legacy-unused",
                "team_id": "T0ACME",
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/loopkeeper",
                "text": text,
                "api_app_id": "A0LOOPKEEPER",
                "response_url": self.slack.response_url,
                "trigger_id": f"trigger.{next(_ids)}",
            }
        ).encode()
        response = await self.post_signed(body, "application/x-www-form-urlencoded")
        if settle:
            await self.settle()
        return response

    async def ingest(
        self, body: Any, *, token: str | None = INGEST_TOKEN
    ) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = await self.http.post(
            f"{self.base_url}/api/v1/reports",
            data=data,
            headers={**headers, "Content-Type": "application/json"},
        )
        await response.read()
        return response

    async def deliver(self) -> int:
        """Run the outbox now, as the background loop would."""
        return await self.runtime.dispatcher.drain()


def shortcut_payload(user: str, channel: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "report_ai_output",
        "trigger_id": f"trigger.{next(_ids)}",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"},
        "channel": {"id": channel, "name": "support"},
        "message": message,
        "message_ts": message["ts"],
        "response_url": "https://hooks.slack.invalid/actions/1",
        "token": "legacy-unused",
    }


def view_submission(
    user: str, view: dict[str, Any], values: dict[str, str | None]
) -> dict[str, Any]:
    """Submit `view` (as the bot opened it) with these block values filled in."""
    state: dict[str, dict[str, Any]] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        value = values.get(block["block_id"])
        if element["type"] == "users_select":
            state[block["block_id"]] = {"value": {"type": "users_select", "selected_user": value}}
        elif element["type"] == "static_select":
            chosen = (
                {"value": value, "text": {"type": "plain_text", "text": str(value)}}
                if value
                else None
            )
            state[block["block_id"]] = {
                "value": {"type": "static_select", "selected_option": chosen}
            }
        else:
            state[block["block_id"]] = {"value": {"type": "plain_text_input", "value": value}}
    return {
        "type": "view_submission",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"},
        "api_app_id": "A0LOOPKEEPER",
        "trigger_id": f"trigger.{next(_ids)}",
        "view": {
            **view,
            "id": f"V{next(_ids):08d}",
            "hash": f"{next(_ids)}.abc",
            "state": {"values": state},
            "team_id": "T0ACME",
            "app_id": "A0LOOPKEEPER",
        },
    }


def button_press(
    user: str, action_id: str, value: str, channel: str = "C0TRIAGE", message_ts: str = "1.0"
) -> dict[str, Any]:
    """A block_actions payload: `user` pressed the button `action_id` on a message."""
    return {
        "type": "block_actions",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"},
        "api_app_id": "A0LOOPKEEPER",
        "trigger_id": f"trigger.{next(_ids)}",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "channel": {"id": channel, "name": "triage"},
        "message": {"type": "message", "ts": message_ts, "text": "card"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "triage",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@asynccontextmanager
async def running_bot(
    database_url: str, slack: FakeSlack, routing_file: Path = ROUTING_FILE, **settings: Any
) -> AsyncIterator[BotUnderTest]:
    """The bot under test on its ephemeral port, with Slack (the fake) and the ingest API on;
    `settings` override the defaults (e.g. `teams="off"`)."""
    clock = ManualClock(now_utc())
    defaults: dict[str, Any] = {
        "database_url": database_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.url,
        "ingest_token": INGEST_TOKEN,
        # The fake Slack takes any rate unless given limits, and the test's clock stands still
        # unless moved: pacing is for the tests that turn both on (tests/test_pacing.py).
        "pacing": "off",
    }
    configured = Settings(_env_file=None, **(defaults | settings))  # type: ignore[call-arg]
    runtime = await build_runtime(configured, load_routing(routing_file), clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield BotUnderTest(runtime, slack, clock, str(server.make_url("")).rstrip("/"), http)
    finally:
        await server.close()
        await runtime.close()


@pytest.fixture
async def bot(database_url: str, slack: FakeSlack) -> AsyncIterator[BotUnderTest]:
    async with running_bot(database_url, slack) as started:
        yield started
