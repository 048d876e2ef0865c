"""The fakes' rate limits answer as Slack and the Bot Connector do: 429 with Retry-After, per
channel or conversation, per method tier; and only when asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.fake_connector import FakeConnector
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.rate_limits import Latency, SlackLimits, TeamsLimits


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, slack: FakeSlack, method: str, **args: Any
) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with http.post(slack.url + method, json=args, headers=headers) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def test_slack_takes_a_short_burst_per_channel_then_one_a_second(
    http: aiohttp.ClientSession,
) -> None:
    clock = Seconds()
    slack = FakeSlack(limits=SlackLimits(clock=clock, channel_burst=4))
    await slack.start()
    try:
        answers = [await call(http, slack, "chat.postMessage", channel="C1") for _ in range(6)]
        assert answers == [(200, None)] * 4 + [(429, "1")] * 2
        assert await call(http, slack, "chat.postMessage", channel="C2") == (200, None)
        clock.now += 1
        assert await call(http, slack, "chat.postMessage", channel="C1") == (200, None)
        assert await call(http, slack, "chat.postMessage", channel="C1") == (429, "1")
        assert len(slack.throttled) == 3
        assert len(slack.calls_to("chat.postMessage")) == 6  # the refused ones are not posted
    finally:
        await slack.stop()


async def test_slack_limits_other_methods_by_their_tier_per_minute(
    http: aiohttp.ClientSession,
) -> None:
    clock = Seconds()
    slack = FakeSlack(limits=SlackLimits(clock=clock))
    await slack.start()
    try:
        tier_3 = [await call(http, slack, "conversations.open", users="U1") for _ in range(51)]
        assert tier_3[:50] == [(200, None)] * 50
        assert tier_3[50] == (429, "2")  # one more of 50 a minute: 1.2 s away
        assert await call(http, slack, "auth.test") == (200, None)  # not tiered
        clock.now += 1.2
        assert await call(http, slack, "conversations.open", users="U1") == (200, None)
    finally:
        await slack.stop()


async def test_without_limits_the_fake_slack_never_answers_429(
    http: aiohttp.ClientSession,
) -> None:
    slack = FakeSlack()
    await slack.start()
    try:
        answers = [await call(http, slack, "chat.postMessage", channel="C1") for _ in range(30)]
        assert answers == [(200, None)] * 30
    finally:
        await slack.stop()


async def test_latency_is_drawn_per_method_from_its_range_and_seeded(
    http: aiohttp.ClientSession,
) -> None:
    slack = FakeSlack(method_latency=Latency(low=0.001, high=0.003, seed=3))
    await slack.start()
    try:
        for _ in range(3):
            await call(http, slack, "chat.postMessage", channel="C1")
        drawn = slack.method_latency.drawn["chat.postMessage"]  # type: ignore[union-attr]
        assert len(drawn) == 3 and all(0.001 <= s <= 0.003 for s in drawn)
        again = Latency(low=0.001, high=0.003, seed=3)
        assert [again.of("chat.postMessage") for _ in range(3)] == drawn
    finally:
        await slack.stop()


async def send(
    http: aiohttp.ClientSession, connector: FakeConnector, conversation: str
) -> tuple[int, str | None]:
    url = f"{connector.url}v3/conversations/{conversation}/activities"
    async with http.post(url, json={"type": "message", "text": "hi"}) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def test_teams_limits_each_conversation_by_its_windows(http: aiohttp.ClientSession) -> None:
    clock = Seconds()
    connector = FakeConnector(limits=TeamsLimits(clock=clock))
    await connector.start()
    try:
        burst = [await send(http, connector, "19:a") for _ in range(8)]
        assert burst == [(201, None)] * 7 + [(429, "1")]
        assert await send(http, connector, "19:b") == (201, None)  # another conversation
        clock.now += 1  # 7 a second again, but 8 in 2 s: one more now
        assert await send(http, connector, "19:a") == (201, None)
        assert await send(http, connector, "19:a") == (429, "1")
        # Three a second fits 7/1 s and 8/2 s; twenty seconds of it fill 60 per 30 s.
        clock.now += 10
        for second in range(20):
            answers = [await send(http, connector, "19:c") for _ in range(3)]
            assert answers == [(201, None)] * 3, second
            clock.now += 1
        assert await send(http, connector, "19:c") == (429, "10")
        assert len(connector.throttled) == 3
    finally:
        await connector.stop()
