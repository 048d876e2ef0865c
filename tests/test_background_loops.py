"""The background loops together: flags accepted are filed before messages go out."""

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


async def filed_and_waiting(bot: BotUnderTest) -> asyncio.Event:
    """One flag filed (its confirmation queued), and a second one accepted whose filing is
    stuck reading its message from Slack. Returns the event that unsticks it."""
    for ts in ("1700000000.000100", "1700000000.000200"):
        bot.slack.add_message("C0SUPPORT", ai_message(ts))
    await bot.react("U0FIRST", "x", "C0SUPPORT", "1700000000.000100")
    stuck = bot.slack.holds["conversations.history"] = asyncio.Event()
    await bot.react("U0SECOND", "x", "C0SUPPORT", "1700000000.000200", process=False)
    return stuck


async def test_delivery_waits_while_accepted_flags_are_being_filed(bot: BotUnderTest) -> None:
    stuck = await filed_and_waiting(bot)
    async with inbox_running(bot):
        await until_held(bot)  # the second flag is being filed
        delivery = asyncio.create_task(bot.deliver())

        with pytest.raises(TimeoutError):  # it gives way to the filing
            await asyncio.wait_for(asyncio.shield(delivery), 0.3)
        assert bot.slack.calls_to("chat.postEphemeral") == []

        stuck.set()
        await asyncio.wait_for(delivery, WAIT)

    confirmed = {c["user"] for c in bot.slack.calls_to("chat.postEphemeral")}
    assert confirmed == {"U0FIRST", "U0SECOND"}  # both, in the round that waited


async def test_delivery_gives_way_for_a_while_only(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.runtime.dispatcher, "_patience", 0.2)
    stuck = await filed_and_waiting(bot)
    try:
        async with inbox_running(bot):
            await until_held(bot)

            await asyncio.wait_for(bot.deliver(), WAIT)  # the filing is still stuck

            assert [c["user"] for c in bot.slack.calls_to("chat.postEphemeral")] == ["U0FIRST"]
    finally:
        stuck.set()
