"""POST /api/messages: request validation, token checks, emulator mode, production refusal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer, make_mocked_request
from typer.testing import CliRunner

from bot.app.cli import app
from bot.app.main import build_runtime
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from tests import teams_harness
from tests.harness import now_utc
from tests.support.fake_connector import FakeConnector
from tests.teams_harness import (
    CHAT,
    TeamsBotUnderTest,
    account,
    ai_message,
    teams_routing,
)

# The Teams fixtures, by assignment: pytest finds fixtures among a module's names.
connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

APP_ID = "3f1c2b7a-0000-4000-8000-00000000b07a"


async def test_an_invoke_with_a_body_answers_200_with_that_body(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, body = await teams_bot.fetch_task(account("dan"), ai_message("Sydney is the capital."))
    assert status == 200
    assert body["task"]["type"] == "continue"


async def test_a_message_activity_answers_200_without_a_body(teams_bot: TeamsBotUnderTest) -> None:
    status, body = await teams_bot.say(account("dan"), "a:1:dm-dan", "hello")
    assert (status, body) == (200, None)


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        (None, b'{"type": "message"}', "Content-Type"),
        ("text/plain", b'{"type": "message"}', "Content-Type"),
        ("application/json", b"{not json", "not valid JSON"),
        ("application/json", b"[1, 2]", "JSON object"),
        ("application/json", b'{"text": "no type"}', "'type'"),
        ("application/json", b'{"type": "message", "conversation": {"id": "c"}}', "serviceUrl"),
        (
            "application/json",
            b'{"type": "message", "serviceUrl": "http://x/", "conversation": "c"}',
            "'conversation'",
        ),
        (
            "application/json",
            b'{"type": "message", "serviceUrl": "http://x/", "conversation": {"id": "c"},'
            b' "timestamp": "not a time"}',
            "malformed activity",
        ),
    ],
)
async def test_malformed_requests_are_refused_with_400_and_a_json_error(
    teams_bot: TeamsBotUnderTest, content_type: str | None, body: bytes, error: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await teams_bot.http.post(
        f"{teams_bot.base_url}/api/messages",
        data=body,
        headers=headers,
        skip_auto_headers=[] if content_type else ["Content-Type"],  # none at all
    )
    assert response.status == 400
    answer = await response.json()
    assert error in answer["error"]
    assert await teams_bot.runtime.store.latest_teams_conversation() is None


async def test_emulator_mode_refuses_non_loopback_clients(teams_bot: TeamsBotUnderTest) -> None:
    handler = _teams_handler(teams_bot)
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("10.1.2.3", 5555) if name == "peername" else default
    )
    request = make_mocked_request(
        "POST",
        "/api/messages",
        headers={"Content-Type": "application/json"},
        transport=transport,
    )
    response = await handler(request)
    assert response.status == 403
    assert "loopback" in json.loads(response.body)["error"]  # type: ignore[arg-type]


def _teams_handler(bot: TeamsBotUnderTest) -> Any:
    for route in bot.runtime.web_app.router.routes():
        if (
            route.method == "POST"
            and route.resource
            and route.resource.canonical == "/api/messages"
        ):
            return route.handler
    raise AssertionError("no /api/messages route")


# --- with credentials: tokens are checked -------------------------------------------------------


@pytest.fixture
async def secured(
    database_url: str, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[tuple[TeamsBotUnderTest, FakeConnector]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        microsoft_app_id=APP_ID,
        microsoft_app_password="not-a-real-secret",
    )
    clock = ManualClock(now_utc())
    runtime = await build_runtime(settings, teams_routing(tmp_path / "routing.yaml"), clock=clock)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        bot = TeamsBotUnderTest(
            runtime, None, clock, str(server.make_url("")).rstrip("/"), http, connector
        )  # type: ignore[arg-type]
        yield bot, connector
    await server.close()
    await runtime.close()


def _forged_token(issuer: str) -> str:
    claims = {"iss": issuer, "aud": APP_ID, "serviceurl": "http://127.0.0.1/"}
    return jwt.encode(claims, "a-guessed-key-that-is-long-enough-for-hs256", algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer garbage",
        "Basic dXNlcjpwYXNz",
        f"Bearer {_forged_token('https://evil.example/')}",
    ],
    ids=["no token", "garbage", "not bearer", "forged"],
)
async def test_with_an_app_id_a_missing_or_bad_token_is_refused_with_401(
    secured: tuple[TeamsBotUnderTest, FakeConnector], authorization: str | None
) -> None:
    bot, fake = secured
    message = ai_message("Sydney is the capital.")
    activity = bot.activity(
        "invoke",
        account("dan"),
        CHAT,
        conversation_type="groupChat",
        name="composeExtension/submitAction",
        value={
            "commandId": "reportAiOutput",
            "data": {"category": "hallucination"},
            "messagePayload": message,
        },
    )
    headers = {"Authorization": authorization} if authorization else {}
    status, body = await bot.post_activity(activity, headers=headers)
    assert status == 401
    assert "token" in body["error"]
    assert await bot.runtime.store.list_cases() == []
    assert await bot.runtime.store.latest_teams_conversation() is None
    assert fake.sent == []


async def test_with_an_app_id_requests_are_not_limited_to_loopback(
    secured: tuple[TeamsBotUnderTest, FakeConnector],
) -> None:
    bot, _ = secured
    handler = _teams_handler(bot)
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("10.1.2.3", 5555) if name == "peername" else default
    )
    request = make_mocked_request(
        "POST",
        "/api/messages",
        headers={"Content-Type": "text/plain", "Authorization": "Bearer a.b.c"},
        transport=transport,
    )
    response = await handler(request)
    assert response.status == 400  # validated, not refused for where it came from


# --- production ---------------------------------------------------------------------------------


def test_production_refuses_teams_without_credentials() -> None:
    settings = Settings(_env_file=None, env="production")  # type: ignore[call-arg]
    problems = settings.problems()
    assert any("MICROSOFT_APP_ID" in p and "LOOPKEEPER_TEAMS=off" in p for p in problems)


def test_production_accepts_teams_off_or_with_credentials() -> None:
    # Teams off is fine in production as long as Slack is on (issue #11: not neither).
    off = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        teams="off",
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
    )
    assert off.problems() == []
    on = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
    )
    assert on.problems() == []


def test_credentials_that_cannot_work_are_reported() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        microsoft_app_id=APP_ID,
        microsoft_app_type="SingleTenant",
    )
    problems = settings.problems()
    assert any("MICROSOFT_APP_PASSWORD" in p for p in problems)
    assert any("MICROSOFT_APP_TENANT_ID" in p for p in problems)


def test_serve_in_production_without_teams_credentials_exits_1(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    teams_routing(routing)
    result = CliRunner().invoke(
        app,
        ["serve", "--port", "0"],
        env={
            "LOOPKEEPER_ENV": "production",
            "LOOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lk.db'}",
            "LOOPKEEPER_CONFIG": str(routing),
            "MICROSOFT_APP_ID": "",
            "LOOPKEEPER_TEAMS": "on",
        },
    )
    assert result.exit_code == 1
    assert "MICROSOFT_APP_ID" in result.output
    assert "Refusing to start in production mode" in result.output
    assert not (tmp_path / "lk.db").exists()  # refused before migrating anything


def test_teams_off_serves_no_teams_endpoint(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, teams="off")  # type: ignore[call-arg]
    assert not settings.teams_enabled
    assert not settings.teams_emulator_mode


async def test_with_teams_off_there_is_no_api_messages_route(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        teams="off",
    )
    runtime = await build_runtime(settings, teams_routing(tmp_path / "routing.yaml"))
    try:
        paths = {r.resource.canonical for r in runtime.web_app.router.routes() if r.resource}
        assert "/api/messages" not in paths
        assert runtime.teams is None
    finally:
        await runtime.close()
