"""`loopkeeper outbox` and `loopkeeper inbox`: listing what waits and what is dead-lettered,
and sending it again, on a real database a running bot (fake Slack) shares."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from typer.testing import CliRunner, Result

from bot.app.cli import app
from bot.core.inbox import MAX_ATTEMPTS as INBOX_ATTEMPTS
from bot.core.inbox import InboxWorker
from tests.harness import BotUnderTest
from tests.support.fake_slack import Failure

AI_TEXT = "Our refund window is 90 days for all products."


def invoke(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"LOOPKEEPER_DATABASE_URL": database_url})


async def run_cli(bot: BotUnderTest, *args: str) -> Result:
    """As an operator would, beside the running bot; it calls asyncio.run, so in a thread."""
    return await asyncio.to_thread(invoke, bot.runtime.settings.database_url, *args)


async def flag(bot: BotUnderTest, ts: str, user: str = "U0REPORTER") -> None:
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": ts, "text": AI_TEXT, "bot_id": "B0SUPPORT"}
    )
    assert (await bot.react(user, "x", "C0SUPPORT", ts)).status == 200


async def test_outbox_lists_a_dead_letter_and_retry_sends_it(bot: BotUnderTest) -> None:
    await flag(bot, "1700000000.000100")
    bot.slack.fail("chat.postEphemeral", Failure(200, "channel_not_found"))
    await bot.deliver()  # the card and DM go; the confirmation is refused for good
    assert bot.slack.calls_to("chat.postEphemeral") == []

    waiting = await run_cli(bot, "outbox")
    dead = await run_cli(bot, "outbox", "--dead")
    listed = await run_cli(bot, "outbox", "--dead", "--format", "json")

    assert waiting.exit_code == 0 and "nothing waiting" in waiting.stdout
    assert dead.exit_code == 0, dead.output
    assert "chat.postEphemeral" in dead.stdout
    assert "slack error channel_not_found" in dead.stdout
    [record] = json.loads(listed.stdout)
    assert record["kind"] == "chat.postEphemeral" and record["attempts"] == 1
    assert record["last_error"] == "slack error channel_not_found"
    assert record["dead_at"] is not None and record["next_try"] is None

    retried = await run_cli(bot, "outbox", "retry", str(record["id"]))  # the channel is back
    assert retried.exit_code == 0, retried.output
    await bot.deliver()

    [sent] = bot.slack.calls_to("chat.postEphemeral")
    assert sent["user"] == "U0REPORTER"
    assert (await run_cli(bot, "outbox", "--dead")).stdout.strip() == "outbox: no dead letters."
    assert await bot.runtime.store.pending_count() == 0


async def test_outbox_retry_all_dead_sends_every_dead_letter_again(bot: BotUnderTest) -> None:
    await flag(bot, "1700000000.000200", user="U0ONE")
    await flag(bot, "1700000000.000201", user="U0TWO")
    bot.slack.fail("chat.postEphemeral", *[Failure(200, "not_in_channel")] * 2)
    await bot.deliver()

    retried = await run_cli(bot, "outbox", "retry", "--all-dead")
    await bot.deliver()

    assert retried.exit_code == 0, retried.output
    assert "2 outbox item(s) will be sent again" in retried.stdout
    assert sorted(c["user"] for c in bot.slack.calls_to("chat.postEphemeral")) == [
        "U0ONE",
        "U0TWO",
    ]


async def test_outbox_retry_needs_ids_or_all_dead_and_names_unknown_ids(
    bot: BotUnderTest,
) -> None:
    neither = await run_cli(bot, "outbox", "retry")
    unknown = await run_cli(bot, "outbox", "retry", "4242")

    assert neither.exit_code == 2 and "--all-dead" in neither.stderr
    assert unknown.exit_code == 1 and "4242" in unknown.stderr


async def test_inbox_lists_an_unfiled_flag_and_retry_files_it(bot: BotUnderTest) -> None:
    # Accepted over HTTP, then worked on by a process where Slack is off (no handler for
    # reactions) until it is a dead letter; this bot, with Slack on, files it once retried.
    bot.slack.add_message(
        "C0SUPPORT", {"type": "message", "ts": "1700000000.000300", "text": AI_TEXT}
    )
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000300", process=False)
    slackless = InboxWorker(bot.runtime.store, {}, bot.clock)
    for _attempt in range(INBOX_ATTEMPTS):
        await slackless.drain()
        bot.clock.advance(timedelta(hours=1))

    waiting = await run_cli(bot, "inbox")
    dead = await run_cli(bot, "inbox", "--dead", "--format", "json")

    assert "nothing waiting" in waiting.stdout
    [record] = json.loads(dead.stdout)
    assert record["kind"] == "slack.reaction_added"
    assert record["attempts"] == INBOX_ATTEMPTS
    assert "no handler" in record["last_error"]
    table = await run_cli(bot, "inbox", "--dead")
    assert "slack.reaction_added" in table.stdout and "inbox retry --all-dead" in table.stdout

    retried = await run_cli(bot, "inbox", "retry", str(record["id"]))
    assert retried.exit_code == 0, retried.output
    assert await bot.runtime.inbox.drain() == 1

    [case] = await bot.runtime.store.list_cases()
    assert case.output_ts == "1700000000.000300"
    assert case.output_excerpt == AI_TEXT
    assert json.loads((await run_cli(bot, "inbox", "--dead", "--format", "json")).stdout) == []
