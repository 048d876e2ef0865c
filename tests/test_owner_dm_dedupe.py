"""A DM about a case that Slack posted while its answer was lost is found by its metadata on
the outbox's retry, not posted twice (the way a case card is)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.harness import BotUnderTest
from tests.support.fake_slack import Failure
from tests.test_escalation import flag, tick


def in_dm(bot: BotUnderTest, user: str) -> list[dict[str, object]]:
    """The messages in the bot's DM with `user`, as Slack holds them."""
    return list(bot.slack.messages[user].values())


@pytest.mark.parametrize(
    "failure",
    [
        # The answer never reaches the bot (a proxy drops it).
        pytest.param(Failure(502, "bad_gateway", done_anyway=True), id="answer-lost"),
        # Slack answers 500 after posting.
        pytest.param(Failure(500, "internal_error", done_anyway=True), id="server-error"),
    ],
)
async def test_an_escalation_dm_slack_posted_before_failing_is_not_posted_again(
    bot: BotUnderTest, failure: Failure
) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    case_id = await flag(bot)
    await tick(bot)

    bot.slack.fail("chat.postMessage", failure)  # the 4h step's DM to Bob goes first
    await tick(bot, timedelta(hours=4))
    [posted] = in_dm(bot, "U0BOB")
    assert await bot.runtime.store.pending_count() == 1  # the bot does not know it is there

    await tick(bot, timedelta(minutes=5))  # the outbox's retry comes due
    await tick(bot, timedelta(minutes=5))

    assert in_dm(bot, "U0BOB") == [posted]  # found by its metadata, not posted twice
    assert posted["metadata"]["event_type"] == "loopkeeper_dm"  # type: ignore[index]
    assert posted["metadata"]["event_payload"]["case_id"] == case_id  # type: ignore[index]
    assert await bot.runtime.store.pending_count() == 0


async def test_a_dm_that_did_not_go_through_is_posted_on_the_retry(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    await flag(bot)
    await tick(bot)

    bot.slack.fail("chat.postMessage", Failure(502, "bad_gateway"))  # not posted this time
    await tick(bot, timedelta(hours=4))
    assert in_dm(bot, "U0BOB") == []

    await tick(bot, timedelta(minutes=5))
    assert len(in_dm(bot, "U0BOB")) == 1
    assert await bot.runtime.store.pending_count() == 0


async def test_a_retry_that_cannot_read_the_dm_still_sends_it(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    await flag(bot)
    await tick(bot)

    bot.slack.fail("chat.postMessage", Failure(502, "bad_gateway"))
    await tick(bot, timedelta(hours=4))
    bot.slack.fail("conversations.history", Failure(200, "missing_scope"))
    await tick(bot, timedelta(minutes=5))

    assert "conversations.history" in [c.method for c in bot.slack.refused]
    assert len(in_dm(bot, "U0BOB")) == 1  # a second DM would beat none
