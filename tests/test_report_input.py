"""What the AI was asked (`input`) and its whole answer (`output`) are kept on each report, from
every source that knows them, so a flagged case can become an eval test: the ingest API, Slack
message metadata, the parent of the Slack thread the AI answered in, Teams message metadata."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import Report
from tests import teams_harness
from tests.harness import BotUnderTest, running_bot, shortcut_payload, view_submission
from tests.support.fake_slack import Failure, FakeSlack
from tests.support.slack_payloads import write_routing
from tests.teams_harness import TeamsBotUnderTest, account, ai_message

connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

QUESTION = "How long do I have to return a laptop?"
ANSWER = "Our refund window is 90 days for all products."
THREAD = "1700000000.000100"


async def the_report(bot: BotUnderTest) -> Report:
    [case] = await bot.runtime.store.list_cases()
    assert case.id is not None
    [report] = await bot.runtime.store.reports_of(case.id)
    return report


def forwarded(**overrides: Any) -> dict[str, Any]:
    return {
        "system": "code-helper",
        "category": "hallucination",
        "trace_id": "trace-1",
        "reporter": {"slack_id": "U0REPORTER"},
        **overrides,
    }


def reply(ts: str, text: str = ANSWER, thread: str = THREAD, **extra: Any) -> dict[str, Any]:
    """The AI's answer, posted in the thread under the question."""
    message = {"type": "message", "ts": ts, "thread_ts": thread, "bot_id": "B0SUPPORT"}
    return {**message, "text": text, **extra}


def question(ts: str = THREAD, text: str = QUESTION) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "thread_ts": ts, "user": "U0ASKER", "text": text}


# --- the ingest API ---------------------------------------------------------------------------


async def test_ingest_api_keeps_the_input_and_the_whole_output(bot: BotUnderTest) -> None:
    long_answer = "word " * 400  # longer than the case's excerpt
    response = await bot.ingest(forwarded(input=QUESTION, output=long_answer))

    assert response.status == 201
    report = await the_report(bot)
    assert report.input == QUESTION
    assert report.output == long_answer
    [case] = await bot.runtime.store.list_cases()
    assert case.output_excerpt is not None and len(case.output_excerpt) < len(report.output)


async def test_ingest_api_input_and_output_are_redacted(bot: BotUnderTest) -> None:
    await bot.ingest(
        forwarded(input="I am jane@example.com, refund me", output="Sure jane@example.com!")
    )

    report = await the_report(bot)
    assert report.input == "I am [email], refund me"
    assert report.output == "Sure [email]!"


async def test_without_store_output_text_neither_is_kept(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    def private(data: dict[str, Any]) -> None:
        data["privacy"]["store_output_text"] = False

    routing = write_routing(tmp_path / "routing.yaml", private)
    async with running_bot(database_url, slack, routing) as bot:
        await bot.ingest(forwarded(input=QUESTION, output=ANSWER, expected="30 days"))

        report = await the_report(bot)
        assert (report.input, report.output, report.expected) == (None, None, "30 days")


async def test_a_reflag_without_input_keeps_the_input_it_had(bot: BotUnderTest) -> None:
    await bot.ingest(forwarded(input=QUESTION, output=ANSWER, comment="wrong"))
    await bot.ingest(forwarded(output=ANSWER, comment="still wrong"))

    report = await the_report(bot)
    assert (report.input, report.comment) == (QUESTION, "still wrong")


# --- Slack ------------------------------------------------------------------------------------


async def test_slack_metadata_input_is_kept(bot: BotUnderTest) -> None:
    metadata = {
        "event_type": "ai_output",
        "event_payload": {"trace_id": "tr-9", "input": "What is our refund policy?"},
    }
    bot.slack.add_message(
        "C0SUPPORT",
        {
            "type": "message",
            "ts": THREAD,
            "bot_id": "B0SUPPORT",
            "text": ANSWER,
            "metadata": metadata,
        },
    )

    await bot.react("U0REPORTER", "x", "C0SUPPORT", THREAD)

    report = await the_report(bot)
    assert (report.input, report.output, report.trace_id) == (
        "What is our refund policy?",
        ANSWER,
        "tr-9",
    )
    assert bot.slack.calls_to("conversations.replies") == []  # metadata said it: no read


async def test_a_flagged_reply_takes_its_thread_parent_as_input_read_once(
    bot: BotUnderTest,
) -> None:
    bot.slack.add_message("C0SUPPORT", question())
    bot.slack.add_message("C0SUPPORT", reply("1700000000.000200"))
    bot.slack.add_message("C0SUPPORT", reply("1700000000.000300", text="Or 120 days."))

    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000200")
    await bot.react("U0OTHER", "x", "C0SUPPORT", "1700000000.000300")

    cases = await bot.runtime.store.list_cases()
    reports = [r for c in cases for r in await bot.runtime.store.reports_of(c.id or 0)]
    assert {(r.input, r.output) for r in reports} == {
        (QUESTION, ANSWER),
        (QUESTION, "Or 120 days."),
    }
    parent_reads = [c for c in bot.slack.calls_to("conversations.replies") if c["ts"] == THREAD]
    assert len(parent_reads) == 1
    assert int(parent_reads[0]["limit"]) == 1


async def test_a_parent_posted_by_the_same_ai_is_not_taken_as_input(bot: BotUnderTest) -> None:
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": THREAD, "thread_ts": THREAD, "bot_id": "B0SUPPORT", "text": "Hi"},
    )
    bot.slack.add_message("C0SUPPORT", reply("1700000000.000200"))

    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000200")

    report = await the_report(bot)
    assert (report.input, report.output) == (None, ANSWER)


async def shortcut_report(bot: BotUnderTest, message: dict[str, Any], user: str) -> None:
    await bot.interact(shortcut_payload(user, "C0SUPPORT", message))
    view = bot.slack.calls_to("views.open")[-1]["view"]
    response = await bot.interact(
        view_submission(user, view, {"category": "hallucination", "expected": "30 days"})
    )
    assert response.status == 200


async def test_a_rate_limited_parent_read_files_the_flag_without_input_and_backs_off(
    bot: BotUnderTest,
) -> None:
    bot.slack.add_message("C0SUPPORT", question())
    bot.slack.add_message("C0SUPPORT", question("1700000000.000500", "Another question"))
    bot.slack.fail("conversations.replies", Failure(429, "ratelimited", retry_after=30))

    # The shortcut carries the message itself: the only Web API read is the parent's.
    await shortcut_report(bot, reply("1700000000.000200"), "U0REPORTER")
    second = reply("1700000000.000600", text="Other answer", thread="1700000000.000500")
    await shortcut_report(bot, second, "U0OTHER")

    cases = await bot.runtime.store.list_cases()
    assert len(cases) == 2  # nothing lost, nothing delayed past the inbox's own pass
    reports = [r for c in cases for r in await bot.runtime.store.reports_of(c.id or 0)]
    assert {(r.input, r.output, r.expected) for r in reports} == {
        (None, ANSWER, "30 days"),
        (None, "Other answer", "30 days"),
    }
    # One read was refused with a 429; within its Retry-After no other parent is read.
    assert len(bot.slack.refused) == 1
    assert bot.slack.calls_to("conversations.replies") == []

    # Once the Retry-After has passed, parents are read again.
    bot.clock.advance(timedelta(seconds=31))
    bot.slack.add_message("C0SUPPORT", question("1700000000.000700", "Third question"))
    third = reply("1700000000.000800", text="Third answer", thread="1700000000.000700")
    await shortcut_report(bot, third, "U0THIRD")
    [read] = bot.slack.calls_to("conversations.replies")
    assert read["ts"] == "1700000000.000700"
    reports = [
        r
        for c in await bot.runtime.store.list_cases()
        for r in await bot.runtime.store.reports_of(c.id or 0)
    ]
    assert ("Third question", "Third answer") in {(r.input, r.output) for r in reports}


async def test_a_failing_parent_read_files_the_flag_without_input(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", question())
    bot.slack.fail("conversations.replies", Failure(400, "thread_not_found"))

    await shortcut_report(bot, reply("1700000000.000200"), "U0REPORTER")

    report = await the_report(bot)
    assert (report.input, report.output) == (None, ANSWER)


# --- Teams ------------------------------------------------------------------------------------


async def test_teams_message_metadata_input_is_kept(teams_bot: TeamsBotUnderTest) -> None:
    message = ai_message(ANSWER, meta={"trace_id": "tr-7", "input": QUESTION})

    status, _ = await teams_bot.submit_report(
        account("dan"), message, {"category": "hallucination", "expected": "30 days"}
    )

    assert status == 200
    report = await the_report(teams_bot)
    assert (report.input, report.output, report.trace_id) == (QUESTION, ANSWER, "tr-7")


async def test_a_slack_that_does_not_answer_the_parent_read_does_not_hold_the_flag(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("handlers.slack.thread_input.PARENT_TIMEOUT", 0.05)
    bot.slack.add_message("C0SUPPORT", question())
    answer = asyncio.Event()  # never set while the flag is filed: Slack does not answer
    bot.slack.holds["conversations.replies"] = answer
    try:
        await shortcut_report(bot, reply("1700000000.000200"), "U0REPORTER")

        report = await the_report(bot)
        assert (report.input, report.output, report.expected) == (None, ANSWER, "30 days")
        assert bot.slack.held == ["conversations.replies"]
    finally:
        answer.set()


async def test_a_message_read_again_later_fills_in_the_reports_output_and_input(
    bot: BotUnderTest,
) -> None:
    metadata = {"event_type": "ai_output", "event_payload": {"input": QUESTION}}
    bot.slack.add_message(
        "C0SUPPORT",
        {
            "type": "message",
            "ts": THREAD,
            "bot_id": "B0SUPPORT",
            "text": ANSWER,
            "metadata": metadata,
        },
    )
    bot.slack.fail("conversations.history", Failure(429, "ratelimited", retry_after=30))

    await bot.react("U0REPORTER", "x", "C0SUPPORT", THREAD)
    report = await the_report(bot)
    assert (report.input, report.output) == (None, None)  # filed at once, bare

    bot.clock.advance(timedelta(minutes=2))
    await bot.runtime.inbox.drain()  # Slack answers now

    report = await the_report(bot)
    assert (report.input, report.output) == (QUESTION, ANSWER)
