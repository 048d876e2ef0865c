"""Nothing retries forever: inbox items and outbox messages have a bounded number of attempts,
then become dead letters, visible on /metrics and to their reporter, and can be sent again.

End to end: signed requests to /slack/events, the fake Slack at the network, the real
database (SQLite and PostgreSQL), the injected clock to move time forward.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest

from bot.core.inbox import MAX_ATTEMPTS as INBOX_ATTEMPTS
from bot.core.models import Channel, ReportDraft, Reporter
from bot.core.outbox import MAX_ATTEMPTS as OUTBOX_ATTEMPTS
from handlers.slack.queued import SLACK_REPORT
from storage.queues import SqlQueues
from tests.harness import BotUnderTest
from tests.support.fake_slack import Failure

AI_TEXT = "Our refund window is 90 days for all products."
LATER = timedelta(hours=1)  # longer than any backoff: each round is a new attempt


def ai_message(ts: str) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "text": AI_TEXT, "bot_id": "B0SUPPORT"}


def reaction(user: str, ts: str, channel: str = "C0SUPPORT") -> dict[str, Any]:
    return {
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": "x",
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": "1700000000.000001",
        },
        "event_id": "Ev0POISON",
    }


async def put_in_inbox(bot: BotUnderTest, payload: dict[str, Any], key: str) -> None:
    """An inbox row as the Slack edge commits it before its ack. Written directly because the
    edge now refuses such ids: these rows are what an earlier version accepted, still waiting
    in the database after an upgrade (or what a new bug lets through)."""
    assert await bot.runtime.store.accept(key, "slack.reaction_added", payload, bot.clock.now())


async def metric(bot: BotUnderTest, name: str) -> float:
    response = await bot.http.get(f"{bot.base_url}/metrics")
    assert response.status == 200
    found = re.search(rf"^{name} (\S+)$", await response.text(), re.MULTILINE)
    assert found, f"{name} is not on /metrics"
    return float(found.group(1))


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.exc_info is None for r in loud), [r.getMessage() for r in loud if r.exc_info]
    assert "Traceback" not in caplog.text


def told_unfiled(bot: BotUnderTest) -> list[dict[str, Any]]:
    return [
        call
        for call in bot.slack.calls_to("chat.postEphemeral")
        if "could not be filed" in str(call.get("text"))
    ]


# --- the inbox ---------------------------------------------------------------------------


async def test_an_invalid_flag_is_dead_lettered_at_once_and_its_reporter_is_told(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    # The flagged message's timestamp is longer than any id may be: filing can never succeed.
    await put_in_inbox(bot, reaction("U0ALICE", "1" * 300), "slack:event:Ev0POISON")

    with caplog.at_level(logging.WARNING):
        await bot.runtime.inbox.drain()
        await bot.deliver()

    assert await bot.runtime.store.inbox_pending() == 0  # no longer tried
    [told] = told_unfiled(bot)
    assert told["user"] == "U0ALICE" and told["channel"] == "C0SUPPORT"
    assert "An operator has been told" in told["text"]
    assert await bot.runtime.store.list_cases() == []
    [dead] = await SqlQueues(bot.runtime.store.engine).inbox(dead=True)
    assert dead.attempts == 1
    assert dead.last_error and "invalid" in dead.last_error
    no_tracebacks(caplog)
    assert f"inbox item {dead.id} (slack.reaction_added) dead-lettered" in caplog.text


async def test_a_modal_flag_that_cannot_be_filed_is_dead_lettered_and_its_reporter_told(
    bot: BotUnderTest,
) -> None:
    # A report modal's flag, queued before its ack, naming a category routing.yaml no longer has.
    draft = ReportDraft(
        reporter=Reporter(id="slack:U0ALICE", slack_user_id="U0ALICE"),
        channel=Channel.slack_shortcut,
        category_id="retired-category",
        comment="it made up a refund window",
        reply_channel_id="C0SUPPORT",
        dedupe_key="slack:view:V0GONE",
    )
    payload = {"draft": draft.model_dump(mode="json"), "read": None}
    assert await bot.runtime.store.accept(
        "slack:view:V0GONE", SLACK_REPORT, payload, bot.clock.now()
    )

    await bot.runtime.inbox.drain()
    await bot.deliver()

    [told] = told_unfiled(bot)
    assert told["user"] == "U0ALICE" and told["channel"] == "C0SUPPORT"
    assert await bot.runtime.store.list_cases() == []


async def test_a_flag_that_keeps_failing_is_dead_lettered_after_its_last_attempt(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    poison = reaction("U0ALICE", "1700000000.000200")
    del poison["event_id"]  # filing it fails the same way every time (a KeyError)
    await put_in_inbox(bot, poison, "slack:event:Ev0BROKEN")
    queues = SqlQueues(bot.runtime.store.engine)

    with caplog.at_level(logging.WARNING):
        for _attempt in range(INBOX_ATTEMPTS - 1):
            await bot.runtime.inbox.drain()
            bot.clock.advance(LATER)
        assert await bot.runtime.store.inbox_pending() == 1  # still being tried
        assert told_unfiled(bot) == []
        await bot.runtime.inbox.drain()  # the last attempt
        bot.clock.advance(LATER)
        await bot.runtime.inbox.drain()  # nothing left to try
        await bot.deliver()

    assert await bot.runtime.store.inbox_pending() == 0
    assert len(told_unfiled(bot)) == 1
    [dead] = await queues.inbox(dead=True)
    assert dead.attempts == INBOX_ATTEMPTS
    assert dead.last_error and "KeyError" in dead.last_error
    assert bot.runtime.inbox.failures == INBOX_ATTEMPTS
    no_tracebacks(caplog)


async def test_a_poison_user_id_is_dead_lettered_and_uses_up_no_case_number(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    # A 100 kB user id is over PostgreSQL's index row limit: it can be neither filed nor told.
    # Filed in one batch with two good flags, it must not cost them their case numbers.
    await put_in_inbox(bot, reaction("U" * 100_000, "1700000000.000300"), "slack:event:Ev0HUGE")
    for ts in ("1700000000.000301", "1700000000.000302"):
        bot.slack.add_message("C0SUPPORT", ai_message(ts))
        await bot.react("U0BOB", "x", "C0SUPPORT", ts, process=False)

    with caplog.at_level(logging.WARNING):
        await bot.runtime.inbox.drain()
        await bot.deliver()

    assert await bot.runtime.store.inbox_pending() == 0  # given up on
    assert told_unfiled(bot) == []  # nobody to tell: its user id is not one
    cases = await bot.runtime.store.list_cases()
    assert [case.id for case in cases] == [1, 2]  # the failed flag took no case number
    assert len(await SqlQueues(bot.runtime.store.engine).inbox(dead=True)) == 1
    assert "reporter not told" in caplog.text
    no_tracebacks(caplog)


# --- the outbox --------------------------------------------------------------------------


async def file_a_flag(bot: BotUnderTest, ts: str) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message(ts))
    response = await bot.react("U0REPORTER", "x", "C0SUPPORT", ts)
    assert response.status == 200


async def test_a_permanent_failure_is_dead_lettered_at_once_and_not_retried(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    await file_a_flag(bot, "1700000000.000400")
    bot.slack.fail("chat.postEphemeral", Failure(200, "channel_not_found"))

    with caplog.at_level(logging.WARNING):
        await bot.deliver()
        for _round in range(3):
            bot.clock.advance(timedelta(days=1))
            await bot.deliver()

    assert len(bot.slack.refused) == 1  # tried once, never again
    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert await bot.runtime.store.pending_count() == 0  # not "waiting" for ten years
    [dead] = await SqlQueues(bot.runtime.store.engine).outbox(dead=True)
    assert dead.kind == "chat.postEphemeral"
    assert dead.last_error == "slack error channel_not_found"
    assert await metric(bot, "loopkeeper_outbox_dead") == 1
    assert await metric(bot, "loopkeeper_outbox_pending") == 0
    assert await metric(bot, "loopkeeper_outbox_dead_lettered") == 1
    assert f"outbox message {dead.id} (chat.postEphemeral) cannot be delivered" in caplog.text
    no_tracebacks(caplog)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(Failure(500, "internal_error"), id="server-error"),
        pytest.param(Failure(429, "ratelimited", retry_after=30), id="rate-limited"),
    ],
)
async def test_a_transient_failure_stops_after_the_last_attempt(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture, failure: Failure
) -> None:
    await file_a_flag(bot, "1700000000.000500")
    bot.slack.fail("chat.postEphemeral", *[failure] * (OUTBOX_ATTEMPTS + 5))  # it stays down

    with caplog.at_level(logging.WARNING):
        for _attempt in range(OUTBOX_ATTEMPTS - 1):
            await bot.deliver()
            bot.clock.advance(LATER)
        assert await bot.runtime.store.pending_count() == 1  # still being tried
        await bot.deliver()  # the last attempt
        for _round in range(3):
            bot.clock.advance(LATER)
            await bot.deliver()

    assert len(bot.slack.refused) == OUTBOX_ATTEMPTS  # and not one more
    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert await bot.runtime.store.pending_count() == 0
    [dead] = await SqlQueues(bot.runtime.store.engine).outbox(dead=True)
    assert dead.attempts == OUTBOX_ATTEMPTS
    assert await metric(bot, "loopkeeper_outbox_dead") == 1
    assert await metric(bot, "loopkeeper_outbox_failures") == OUTBOX_ATTEMPTS
    no_tracebacks(caplog)


async def test_metrics_show_what_waits_and_what_is_dead_in_both_queues(
    bot: BotUnderTest,
) -> None:
    await put_in_inbox(bot, reaction("U0ALICE", "1" * 300), "slack:event:Ev0POISON")
    await put_in_inbox(bot, reaction("U0ALICE", "1700000000.000600"), "slack:event:Ev0LATER")
    assert await metric(bot, "loopkeeper_inbox_pending") == 2
    assert await metric(bot, "loopkeeper_inbox_dead") == 0

    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000600"))
    await bot.runtime.inbox.drain()

    assert await metric(bot, "loopkeeper_inbox_pending") == 0
    assert await metric(bot, "loopkeeper_inbox_dead") == 1
    assert await metric(bot, "loopkeeper_inbox_dead_lettered") == 1
    # The filed flag's card, owner DM and confirmation, and the dead one's notice, wait.
    assert await metric(bot, "loopkeeper_outbox_pending") == await bot.runtime.store.pending_count()
    assert await metric(bot, "loopkeeper_outbox_pending") >= 2
