"""Socket Mode's app-level token: one Slack refuses stops the start with what to fix; a Slack
that cannot answer now is asked again after growing pauses, never in a tight loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from bot.app.main import build_runtime
from bot.app.runtime import Runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from bot.core.clock import ManualClock
from bot.core.startup_errors import StartupError
from tests.harness import ROUTING_FILE, now_utc
from tests.support.fake_slack import APP_TOKEN, BOT_TOKEN, Failure, FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode

PATIENCE = 10.0
"""Ceiling for what should be immediate: the old client asked again every ten seconds."""


async def _runtime(database_url: str, slack: FakeSlack, app_token: str = APP_TOKEN) -> Runtime:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=app_token,
        slack_api_url=slack.url,
    )
    return await build_runtime(settings, load_routing(ROUTING_FILE), clock=ManualClock(now_utc()))


@pytest.fixture
async def socket(slack: FakeSlack) -> AsyncIterator[FakeSocketMode]:
    """Where Slack's apps.connections.open sends the bot, once the token is accepted."""
    server = FakeSocketMode()
    await server.start()
    slack.socket_url = server.issue_url
    yield server
    await server.stop()


def _asked(slack: FakeSlack) -> int:
    return sum(c.method == "apps.connections.open" for c in slack.calls + slack.refused)


async def test_an_app_token_slack_does_not_know_stops_the_start_naming_the_variable(
    database_url: str, slack: FakeSlack, socket: FakeSocketMode
) -> None:
    runtime = await _runtime(database_url, slack, app_token="xapp-1-revoked-or-mistyped")
    assert runtime.socket_mode is not None
    try:
        with pytest.raises(StartupError) as refused:
            await asyncio.wait_for(runtime.socket_mode.connect(), PATIENCE)
    finally:
        await runtime.close()

    line = str(refused.value)
    assert "SLACK_APP_TOKEN" in line
    assert "invalid_auth" in line
    assert "\n" not in line
    assert _asked(slack) == 0  # the fake refuses before recording: nothing was connected
    assert socket.urls_issued == 0


@pytest.mark.parametrize("reason", ["not_authed", "account_inactive", "token_revoked"])
async def test_a_refused_app_token_is_asked_once_and_stops_the_start(
    database_url: str, slack: FakeSlack, socket: FakeSocketMode, reason: str
) -> None:
    slack.fail("apps.connections.open", Failure(200, reason), Failure(200, reason))
    runtime = await _runtime(database_url, slack)
    assert runtime.socket_mode is not None
    try:
        with pytest.raises(StartupError, match=reason):
            await asyncio.wait_for(runtime.socket_mode.connect(), PATIENCE)
    finally:
        await runtime.close()

    assert _asked(slack) == 1
    assert socket.urls_issued == 0


async def test_slack_failing_to_answer_is_asked_again_after_growing_pauses(
    database_url: str,
    slack: FakeSlack,
    socket: FakeSocketMode,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = [Failure(200, "service_unavailable")] * 4 + [Failure(200, "internal_error")]
    slack.fail("apps.connections.open", *outage)
    runtime = await _runtime(database_url, slack)
    assert runtime.socket_mode is not None
    paused: list[float] = []

    async def record(seconds: float) -> None:
        paused.append(seconds)

    runtime.socket_mode.pause = record
    try:
        with caplog.at_level(logging.WARNING):
            await asyncio.wait_for(runtime.socket_mode.connect(), PATIENCE)
            await socket.connected()
    finally:
        await runtime.close()

    assert _asked(slack) == 6  # five failures, then the URL
    assert len(paused) == 5
    # Each pause within [half, all] of a ceiling that doubles from one second.
    for attempt, seconds in enumerate(paused):
        assert 2**attempt / 2 <= seconds <= 2**attempt, paused
    assert paused[-1] > paused[0]
    said = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert len(said) == 5
    assert "service_unavailable" in said[0]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_token_revoked_while_running_stops_reconnecting_with_one_error_line(
    database_url: str,
    slack: FakeSlack,
    socket: FakeSocketMode,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = await _runtime(database_url, slack)
    assert runtime.socket_mode is not None
    heard = asyncio.Event()

    class Stopped(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "Socket Mode stopped" in record.getMessage():
                heard.set()

    stopped = Stopped()
    logging.getLogger("handlers.slack.socket_mode").addHandler(stopped)
    try:
        await asyncio.wait_for(runtime.socket_mode.connect(), PATIENCE)
        await socket.connected()
        slack.fail("apps.connections.open", *[Failure(200, "token_revoked")] * 3)
        with caplog.at_level(logging.INFO):
            await socket.send_disconnect()  # Slack asks for a new connection: a new URL
            await asyncio.wait_for(heard.wait(), PATIENCE)
    finally:
        logging.getLogger("handlers.slack.socket_mode").removeHandler(stopped)
        await runtime.close()

    [line] = [r for r in caplog.records if "Socket Mode stopped" in r.getMessage()]
    assert line.levelno == logging.ERROR
    assert "SLACK_APP_TOKEN" in line.getMessage() and "token_revoked" in line.getMessage()
    assert _asked(slack) == 2  # the first connection, then the one refusal: no retry loop
