"""A crowd flagging one answer: each reporter is told at once, and the case's card follows
with one update per step (bot/core/update_steps.py), not one `chat.update` per flag.

Slack allows `chat.update` about 50 times a minute per workspace: 150 people re-flagging one
answer used to queue 150 updates of one card, three minutes of the workspace's whole budget,
with every other card's triage update behind them.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from bot.core.update_steps import REFLAG_EVERY
from tests.harness import BotUnderTest

AI_TS = "1700000000.000900"
CROWD = 40


def _card_updates(bot: BotUnderTest) -> list[str]:
    """Each update of the triage card, as the reporters count it shows."""
    return [
        _reporters(json.dumps(c["blocks"]))
        for c in bot.slack.calls_to("chat.update")
        if c["channel"] == "C0TRIAGE"
    ]


def _reporters(blocks: str) -> str:
    found = re.search(r"\*Reporters\*\\n(\d+)", blocks)
    assert found is not None, blocks
    return found.group(1)


async def test_a_crowd_flagging_one_answer_moves_its_card_once_per_step(
    bot: BotUnderTest,
) -> None:
    answer = {"type": "message", "ts": AI_TS, "text": "Refunds: 90 days."}
    bot.slack.add_message("C0SUPPORT", answer)
    await bot.react("U0FIRST", "warning", "C0SUPPORT", AI_TS)
    await bot.deliver()
    [card] = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "C0TRIAGE"]

    for n in range(CROWD):
        await bot.react(f"U0CROWD{n:03d}", "warning", "C0SUPPORT", AI_TS)
        bot.clock.advance(timedelta(milliseconds=50))
        await bot.deliver()

    [case] = await bot.runtime.store.list_cases()
    assert case.report_count == CROWD + 1
    told = {c["user"] for c in bot.slack.calls_to("chat.postEphemeral")}
    assert told >= {f"U0CROWD{n:03d}" for n in range(CROWD)}  # each one at once
    assert _card_updates(bot) == []  # the step is not over

    bot.clock.advance(REFLAG_EVERY)
    await bot.deliver()
    assert _card_updates(bot) == [str(CROWD + 1)]  # one update, with every flag of the step
    assert _reporters(json.dumps(card["blocks"])) == "1"

    # A later flag, in a later step, moves the card again: nothing is lost to the coalescing.
    await bot.react("U0LATE", "warning", "C0SUPPORT", AI_TS)
    await bot.deliver()
    assert _card_updates(bot) == [str(CROWD + 1)]
    bot.clock.advance(REFLAG_EVERY)
    await bot.deliver()
    assert _card_updates(bot) == [str(CROWD + 1), str(CROWD + 2)]
