"""Pacing in Teams: a burst of cases for one Teams triage channel against a fake Bot Connector
that enforces Teams' per-conversation limits (7/1 s, 8/2 s, 60/30 s, 1,800/h)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.fake_connector import FakeConnector, card_of
from tests.support.fake_slack import FakeSlack
from tests.support.rate_limits import TeamsLimits
from tests.teams_harness import HELPERS, TeamsBotUnderTest, running_teams_bot

STEP = timedelta(milliseconds=250)
CASES = 30


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector(limits=TeamsLimits())
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def teams_bot(
    database_url: str, slack: FakeSlack, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    async with running_teams_bot(database_url, slack, connector, tmp_path, pacing="on") as bot:
        yield bot


async def test_a_burst_for_one_teams_channel_is_delivered_within_teams_limits(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    limits = bot.connector.limits
    assert limits is not None
    limits.clock = lambda: bot.clock.now().timestamp()
    status, _ = await bot.install(HELPERS)
    assert status in (200, 201)
    for n in range(CASES):
        response = await bot.ingest(
            {
                "system": "teams-helper",
                "category": "hallucination",
                "comment": f"wrong answer number {n}",
                "trace_id": f"trace-teams-{n}",
                "reporter": {"slack_id": f"U0REP{n:04d}"},
            }
        )
        assert response.status == 201, await response.text()
    start = bot.clock.now()

    def cards() -> list[str]:
        return [
            str(s.activity_id)
            for s in bot.connector.sent
            if s.conversation_id == HELPERS and s.kind == "send" and card_of(s.activity)
        ]

    while len(cards()) < CASES and bot.clock.now() - start < timedelta(minutes=5):
        await bot.deliver()
        bot.clock.advance(STEP)
    took = (bot.clock.now() - start).total_seconds()
    sent_there = len(bot.connector.to(HELPERS))

    assert len(cards()) == CASES
    assert len(set(cards())) == CASES  # each posted once
    # Over an hour Teams takes one message every 2 s per conversation, after a burst of 7.
    assert took <= 1.2 * (sent_there - 7) * 2.0
    # The owner hears of each case (mentioned in its thread: no 1:1 chat with the bot yet).
    while len(bot.connector.to(HELPERS)) < 2 * CASES:
        assert bot.clock.now() - start < timedelta(minutes=10)
        await bot.deliver()
        bot.clock.advance(STEP)
    replies = [s for s in bot.connector.to(HELPERS) if s.kind == "reply"]
    assert len(replies) == CASES
    assert bot.connector.throttled == []
