"""GET /status: whether Slack took the bot's token at start-up and how far behind delivery is.

End to end against the fake Slack, on SQLite and PostgreSQL, with the injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from tests.harness import ROUTING_FILE, SIGNING_SECRET, BotUnderTest, now_utc, running_bot
from tests.support.fake_slack import BOT_TOKEN, Failure, FakeSlack

AI_TEXT = "The capital of Australia is Sydney."


async def status(bot: BotUnderTest) -> dict[str, Any]:
    response = await bot.http.get(f"{bot.base_url}/status")
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_status_says_slack_auth_succeeded_and_the_database_is_reachable(
    bot: BotUnderTest,
) -> None:
    found = await status(bot)

    assert found["slack"] == {"configured": True, "auth": "ok"}
    assert found["teams"] == {"configured": True, "mode": "emulator"}  # no Microsoft app id
    assert found["database"] == "ok"
    assert found["outbox"] == {"pending": 0, "dead": 0, "oldest_pending_seconds": 0}
    assert found["version"]
    assert BOT_TOKEN not in str(found) and SIGNING_SECRET not in str(found)


async def test_status_shows_the_backlog_and_uptime_growing_with_the_clock(
    bot: BotUnderTest,
) -> None:
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000100", "bot_id": "B0SUPPORT", "text": AI_TEXT},
    )
    assert (await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100")).status == 200
    bot.clock.advance(timedelta(minutes=5))  # the outbox is not drained: Slack is behind

    found = await status(bot)

    assert found["outbox"]["pending"] >= 1
    assert found["outbox"]["oldest_pending_seconds"] == 300
    assert found["uptime_seconds"] == 300


@pytest.fixture
async def refused_bot(database_url: str, slack: FakeSlack) -> AsyncIterator[BotUnderTest]:
    """The bot started while Slack failed every auth.test (a refused token stops the start
    instead: tests/test_misconfiguration.py), and Teams off."""
    slack.fail("auth.test", *[Failure(503, "service_unavailable")] * 5)
    async with running_bot(database_url, slack, teams="off") as started:
        yield started


async def test_status_says_when_slack_could_not_confirm_the_token_at_start_up(
    refused_bot: BotUnderTest,
) -> None:
    assert {call.method for call in refused_bot.slack.refused} == {"auth.test"}

    found = await status(refused_bot)

    assert found["slack"] == {"configured": True, "auth": "failed"}
    assert found["teams"] == {"configured": False, "mode": None}
    assert found["database"] == "ok"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_status_and_metrics_say_the_database_is_down_without_failing(
    slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    unreachable = {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path}",  # a directory: SQLite cannot open it
        "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:1/loopkeeper",  # nobody listens
    }[backend]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=unreachable,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
    )
    runtime = await build_runtime(
        settings, load_routing(ROUTING_FILE), clock=ManualClock(now_utc())
    )
    server = TestServer(runtime.web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            with caplog.at_level(logging.WARNING):
                status_answer = await http.get(server.make_url("/status"))
                found = await status_answer.json()
                metrics_answer = await http.get(server.make_url("/metrics"))
                await metrics_answer.read()
    finally:
        await server.close()
        await runtime.close()

    assert status_answer.status == 200  # it reports; /readyz is what probes ask
    assert found["database"].startswith("unreachable: ")
    assert found["slack"] == {"configured": True, "auth": "ok"}
    assert "outbox" not in found  # not known, rather than a made-up zero
    assert metrics_answer.status == 200  # the other metrics still answer
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)
