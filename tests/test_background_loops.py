"""The background loops together: a backlog of flags is filed before messages go out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.harness import BotUnderTest

WAIT = 5.0  # seconds: a bound on waiting for the loops, never a delay


def ai_message(ts: str) -> dict[str, str]:
    return {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": "Refunds: 90 days."}


@contextlib.asynccontextmanager
async def inbox_running(bot: BotUnderTest) -> AsyncIterator[None]:
    task = asyncio.create_task(bot.runtime.inbox.run(idle=60))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_held(bot: BotUnderTest) -> None:
    """Until a call to the fake Slack is held (polled: the fake has no hook to wait on)."""
    async with asyncio.timeout(WAIT):
        while not bot.slack.held:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def filed_and_waiting(bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """One flag filed (its confirmation queued), then a backlog: two more accepted, more than
    the inbox takes in one round (made one flag here), the first stuck reading its message
    from Slack. Returns the event that unsticks it."""
    monkeypatch.setattr(bot.runtime.inbox, "_batch", 1)
    for ts in ("1700000000.000100", "1700000000.000200", "1700000000.000300"):
        bot.slack.add_message("C0SUPPORT", ai_message(ts))
    await bot.react("U0FIRST", "x", "C0SUPPORT", "1700000000.000100")
    stuck = bot.slack.holds["conversations.history"] = asyncio.Event()
    await bot.react("U0SECOND", "x", "C0SUPPORT", "1700000000.000200", process=False)
    await bot.react("U0THIRD", "x", "C0SUPPORT", "1700000000.000300", process=False)
    return stuck


async def test_delivery_waits_while_a_backlog_of_flags_is_filed(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = await filed_and_waiting(bot, monkeypatch)
    async with inbox_running(bot):
        await until_held(bot)  # the second flag is being filed
        delivery = asyncio.create_task(bot.deliver())

        with pytest.raises(TimeoutError):  # it gives way to the filing
            await asyncio.wait_for(asyncio.shield(delivery), 0.3)
        assert bot.slack.calls_to("chat.postEphemeral") == []

        stuck.set()
        await asyncio.wait_for(delivery, WAIT)

    confirmed = {c["user"] for c in bot.slack.calls_to("chat.postEphemeral")}
    assert confirmed == {"U0FIRST", "U0SECOND", "U0THIRD"}  # the backlog's too


async def test_delivery_gives_way_for_a_while_only(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.runtime.dispatcher._give_way, "patience", 0.2)
    stuck = await filed_and_waiting(bot, monkeypatch)
    try:
        async with inbox_running(bot):
            await until_held(bot)

            await asyncio.wait_for(bot.deliver(), WAIT)  # the filing is still stuck

            assert [c["user"] for c in bot.slack.calls_to("chat.postEphemeral")] == ["U0FIRST"]
    finally:
        stuck.set()


async def test_a_flag_or_two_do_not_hold_up_delivery(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000100"))
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000200"))
    await bot.react("U0FIRST", "x", "C0SUPPORT", "1700000000.000100")
    stuck = bot.slack.holds["conversations.history"] = asyncio.Event()
    await bot.react("U0SECOND", "x", "C0SUPPORT", "1700000000.000200", process=False)
    try:
        async with inbox_running(bot):
            await until_held(bot)  # the second flag is being filed: no backlog behind it

            await asyncio.wait_for(bot.deliver(), 1.5)  # within the outbox's patience (2 s)

            assert [c["user"] for c in bot.slack.calls_to("chat.postEphemeral")] == ["U0FIRST"]
    finally:
        stuck.set()
