"""Pacing, end to end: the bot against a fake Slack that enforces Slack's rate limits.

The fake's limiter and the bot share the test's clock, and the test runs the outbox as its
loop would while moving that clock on: Slack's pace, measured without waiting for it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests.harness import BotUnderTest, button_press, running_bot
from tests.support.fake_slack import Failure, FakeSlack
from tests.support.rate_limits import SlackLimits
from tests.test_dead_letters import metric

STEP = timedelta(milliseconds=100)
"""How often the test runs the outbox: its loop runs at least this often when woken."""


@pytest.fixture
async def limited_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(limits=SlackLimits())
    await fake.start()
    yield fake
    await fake.stop()


def flag(n: int, system: str = "support-assistant") -> dict[str, Any]:
    return {
        "system": system,
        "category": "hallucination",
        "comment": f"wrong answer number {n}",
        "trace_id": f"trace-{system}-{n}",
        "reporter": {"slack_id": f"U0REP{n:04d}"},
    }


def cards_in(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [
        args
        for args in slack.calls_to("chat.postMessage")
        if args.get("channel") == channel and not args.get("thread_ts")
    ]


async def file_flags(bot: BotUnderTest, flags: list[dict[str, Any]]) -> None:
    for body in flags:
        response = await bot.ingest(body)
        assert response.status == 201, await response.text()


async def deliver_while_time_passes(bot: BotUnderTest, until: Any, limit: timedelta) -> None:
    """Run the outbox every STEP of the test's clock until `until()` holds (or `limit`)."""
    end = bot.clock.now() + limit
    while not until() and bot.clock.now() < end:
        await bot.deliver()
        bot.clock.advance(STEP)


async def test_a_hundred_new_cases_are_announced_at_slacks_rate_without_hammering(
    database_url: str, limited_slack: FakeSlack
) -> None:
    limits = limited_slack.limits
    assert limits is not None
    async with running_bot(database_url, limited_slack, pacing="on") as bot:
        limits.clock = lambda: bot.clock.now().timestamp()
        await file_flags(bot, [flag(n) for n in range(100)])
        start = bot.clock.now()

        await deliver_while_time_passes(
            bot, lambda: len(cards_in(limited_slack, "C0TRIAGE")) == 100, timedelta(minutes=5)
        )
        last_card = bot.clock.now()
        await deliver_while_time_passes(
            bot,
            lambda: len(limited_slack.calls_to("chat.postMessage")) >= 300,
            timedelta(minutes=1),
        )

        cards = cards_in(limited_slack, "C0TRIAGE")
        assert len(cards) == 100
        # Slack lets `channel_burst` through at once, then one a second.
        allowed = (100 - limits.channel_burst) / limits.per_channel_per_second
        took = (last_card - start).total_seconds()
        print(f"took {took:.1f}s of {allowed:.0f}s allowed; {len(limited_slack.throttled)} 429s")
        assert took <= 1.2 * allowed, f"100 cards took {took:.1f}s, Slack allows {allowed:.0f}s"
        every_call = len(limited_slack.calls) + len(limited_slack.refused)
        assert len(limited_slack.throttled) < 0.05 * every_call
        # Every message once: a card per case, a confirmation per reporter, a DM per case.
        posted = Counter(
            (args.get("channel"), args.get("text"))
            for args in limited_slack.calls_to("chat.postMessage")
        )
        assert max(posted.values()) == 1
        reporters = {f"U0REP{n:04d}" for n in range(100)}
        told = [a for a in limited_slack.calls_to("chat.postMessage") if a["channel"] in reporters]
        assert len(told) == 100
        owner_dms = [
            a for a in limited_slack.calls_to("chat.postMessage") if a["channel"] == "U0ALICE"
        ]
        assert len(owner_dms) == 100
        assert await bot.runtime.store.pending_count() == 0
        # An operator sees the pacing at work, and no rate limit hit.
        assert await metric(bot, "loopkeeper_outbox_paced") >= 97
        assert await metric(bot, "loopkeeper_outbox_throttled") == 0


async def test_without_pacing_slack_answers_most_of_a_burst_with_429(
    database_url: str, limited_slack: FakeSlack
) -> None:
    """What pacing is for: the same burst, sent as fast as it can be, is mostly refused."""
    limits = limited_slack.limits
    assert limits is not None
    async with running_bot(database_url, limited_slack, pacing="off") as bot:
        limits.clock = lambda: bot.clock.now().timestamp()
        await file_flags(bot, [flag(n) for n in range(20)])
        await bot.deliver()
        every_call = len(limited_slack.calls) + len(limited_slack.refused)
        assert len(limited_slack.throttled) > 0.05 * every_call


async def test_a_429_in_one_channel_does_not_delay_another(
    database_url: str, limited_slack: FakeSlack
) -> None:
    limits = limited_slack.limits
    assert limits is not None
    async with running_bot(database_url, limited_slack, pacing="on") as bot:
        limits.clock = lambda: bot.clock.now().timestamp()
        limited_slack.fail_in(
            "C0TRIAGE", "chat.postMessage", Failure(429, "ratelimited", retry_after=30)
        )
        await file_flags(bot, [flag(1), flag(1, "code-helper")])
        throttled_at = bot.clock.now()
        await bot.deliver()
        assert len(cards_in(limited_slack, "C0CODETRIAGE")) == 1
        assert cards_in(limited_slack, "C0TRIAGE") == []
        assert await metric(bot, "loopkeeper_outbox_throttled") == 1

        # More for both channels: the other channel's go at once, the held one's wait.
        await file_flags(bot, [flag(2), flag(2, "code-helper")])
        await deliver_while_time_passes(
            bot, lambda: len(cards_in(limited_slack, "C0CODETRIAGE")) == 2, timedelta(seconds=5)
        )
        assert len(cards_in(limited_slack, "C0CODETRIAGE")) == 2
        assert bot.clock.now() - throttled_at < timedelta(seconds=5)
        await deliver_while_time_passes(bot, lambda: False, timedelta(seconds=20))
        held = [c for c in limited_slack.refused if c.args.get("channel") == "C0TRIAGE"]
        assert len(held) == 1, "the held channel was tried again before its Retry-After"
        assert cards_in(limited_slack, "C0TRIAGE") == []

        await deliver_while_time_passes(
            bot, lambda: len(cards_in(limited_slack, "C0TRIAGE")) == 2, timedelta(seconds=60)
        )
        assert len(cards_in(limited_slack, "C0TRIAGE")) == 2
        assert limited_slack.throttled == []


async def test_new_cases_cards_go_before_a_backlog_of_thread_replies(
    database_url: str, limited_slack: FakeSlack
) -> None:
    limits = limited_slack.limits
    assert limits is not None
    async with running_bot(database_url, limited_slack, pacing="on") as bot:
        limits.clock = lambda: bot.clock.now().timestamp()
        await file_flags(bot, [flag(n) for n in range(3)])
        await deliver_while_time_passes(
            bot, lambda: len(cards_in(limited_slack, "C0TRIAGE")) == 3, timedelta(seconds=10)
        )
        bot.clock.advance(timedelta(seconds=30))
        for case in await bot.runtime.store.list_cases():
            await bot.interact(button_press("U0ALICE", "case_acknowledge", str(case.id)))
        await file_flags(bot, [flag(n) for n in range(3, 6)])  # queued after the replies
        before = len(limited_slack.calls)

        await deliver_while_time_passes(
            bot, lambda: len(cards_in(limited_slack, "C0TRIAGE")) == 6, timedelta(seconds=10)
        )

        posted = [
            "card" if not call.args.get("thread_ts") else "reply"
            for call in limited_slack.calls[before:]
            if call.method == "chat.postMessage" and call.args.get("channel") == "C0TRIAGE"
        ]
        assert posted.count("card") == 3
        assert posted.count("reply") <= 1, posted
        await deliver_while_time_passes(
            bot, lambda: len(thread_replies(limited_slack)) == 3, timedelta(seconds=30)
        )
        assert len(thread_replies(limited_slack)) == 3
        assert limited_slack.throttled == []


def thread_replies(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        args
        for args in slack.calls_to("chat.postMessage")
        if args.get("channel") == "C0TRIAGE" and args.get("thread_ts")
    ]


async def test_two_replicas_together_send_at_slacks_rate_not_twice_it(
    database_url: str, limited_slack: FakeSlack
) -> None:
    limits = limited_slack.limits
    assert limits is not None
    async with (
        running_bot(database_url, limited_slack, pacing="on") as one,
        running_bot(database_url, limited_slack, pacing="on") as two,
    ):
        two.clock.set(one.clock.now())
        limits.clock = lambda: one.clock.now().timestamp()
        await file_flags(one, [flag(n) for n in range(30)])
        start = one.clock.now()
        while len(cards_in(limited_slack, "C0TRIAGE")) < 30:
            assert one.clock.now() - start < timedelta(minutes=2)
            await asyncio.gather(one.deliver(), two.deliver())  # each claims its share
            for replica in (one, two):
                replica.clock.advance(STEP)
        took = (one.clock.now() - start).total_seconds()

        cards = cards_in(limited_slack, "C0TRIAGE")
        assert len({args["text"] for args in cards}) == 30
        assert limited_slack.throttled == []
        allowed = (30 - limits.channel_burst) / limits.per_channel_per_second
        assert took <= 1.2 * allowed
