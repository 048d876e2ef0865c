"""A reaction whose message Slack would not give (429) is filed at once, bare, and its excerpt
and trace are filled in when a later reading succeeds. Signed requests, fake Slack, real
database (SQLite and PostgreSQL), the injected clock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.core.inbox import MAX_ATTEMPTS as INBOX_ATTEMPTS
from tests.harness import BotUnderTest
from tests.support.fake_slack import Failure

AI_TEXT = "Our refund window is 90 days for all products."
TS = "1700000000.000100"
RATE_LIMITED = Failure(429, "ratelimited", retry_after=30)


def ai_message() -> dict[str, Any]:
    return {
        "type": "message",
        "ts": TS,
        "text": AI_TEXT,
        "bot_id": "B0SUPPORT",
        "metadata": {
            "event_type": "ai_output",
            "event_payload": {"trace_id": "tr-42", "prompt_version": "v7", "model": "gpt-x"},
        },
    }


async def test_a_rate_limited_reaction_is_filed_at_once_and_filled_in_later(
    bot: BotUnderTest,
) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message())
    bot.slack.fail("conversations.history", RATE_LIMITED)

    await bot.react("U0REPORTER", "x", "C0SUPPORT", TS)
    await bot.deliver()

    [case] = await bot.runtime.store.list_cases()  # filed at once, without the message
    assert case.output_excerpt is None and case.trace_id is None
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1  # the reporter heard
    card_posts = len(bot.slack.calls_to("chat.postMessage"))

    bot.clock.advance(timedelta(minutes=2))
    await bot.runtime.inbox.drain()  # Slack answers now
    await bot.deliver()

    [case] = await bot.runtime.store.list_cases()
    assert case.output_excerpt == AI_TEXT
    assert (
        case.output_permalink == f"https://acme.slack.com/archives/C0SUPPORT/p{TS.replace('.', '')}"
    )
    assert (case.trace_id, case.prompt_version, case.model) == ("tr-42", "v7", "gpt-x")
    assert case.output_author_bot_id == "B0SUPPORT"
    # The card says it too, updated in place (not posted again).
    assert len(bot.slack.calls_to("chat.postMessage")) == card_posts
    assert AI_TEXT in json.dumps(bot.slack.calls_to("chat.update")[-1])
    kinds = [entry.kind for entry in await bot.runtime.store.timeline(case.id)]
    assert kinds[-1] == "output_read"


async def test_a_message_slack_never_gives_leaves_the_report_filed_and_unfilled(
    bot: BotUnderTest,
) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message())
    bot.slack.fail("conversations.history", *[RATE_LIMITED] * (INBOX_ATTEMPTS + 1))

    await bot.react("U0REPORTER", "x", "C0SUPPORT", TS)
    for _attempt in range(INBOX_ATTEMPTS + 2):
        bot.clock.advance(timedelta(hours=1))
        await bot.runtime.inbox.drain()
    await bot.deliver()

    [case] = await bot.runtime.store.list_cases()
    assert case.report_count == 1 and case.output_excerpt is None
    assert await bot.runtime.store.inbox_pending() == 0  # the reading was given up
    # The reporter was told their flag was filed, and never that it was not.
    [told] = bot.slack.calls_to("chat.postEphemeral")
    assert "could not be filed" not in str(told.get("text"))
