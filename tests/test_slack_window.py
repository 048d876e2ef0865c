"""Slack's 3-second window holds when the Web API is slow (issue #10).

Slack gives up on a request it has not had an answer to within 3 seconds (the user sees an
error; an event is sent again). Here every Web API call takes 3 seconds, and every slash
command, shortcut, button, view submission and event must still be answered in under 2.5,
the first one after a fresh start included; the work must still get done afterwards.
The response time of the bot's own route is the behaviour under test, so it is measured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest

from bot.core.models import CaseStatus
from storage.database import create_engine
from storage.repository import SqlCaseStore
from tests.cards import with_slack_card
from tests.harness import BotUnderTest, button_press, shortcut_payload, view_submission
from tests.support.fake_slack import Failure

SLOW = 3.0
"""Seconds every Web API call takes."""
WINDOW = 2.5
"""Slack's 3 seconds, less a margin for the network between Slack and the bot."""

AI_TEXT = "Our refund window is 90 days for all products."


async def timed(request: Awaitable[aiohttp.ClientResponse]) -> tuple[aiohttp.ClientResponse, float]:
    started = time.perf_counter()
    response = await request
    return response, time.perf_counter() - started


async def answered_in_time(*requests: Awaitable[aiohttp.ClientResponse]) -> list[Any]:
    """Send the requests together; each must be answered 200 within the window. Returns
    their JSON bodies (None when empty)."""
    answers = await asyncio.gather(*(timed(r) for r in requests))
    bodies = []
    for response, seconds in answers:
        assert response.status == 200
        assert seconds < WINDOW, f"answered after {seconds:.2f}s"
        text = await response.text()
        bodies.append(await response.json() if text else None)
    return bodies


def ai_message(ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "text": AI_TEXT, "bot_id": "B0SUPPORT", **extra}


def opened(bot: BotUnderTest, callback_id: str) -> dict[str, Any]:
    views = [c["view"] for c in bot.slack.calls_to("views.open")]
    [view] = [v for v in views if v["callback_id"] == callback_id]
    return view


async def test_commands_shortcut_and_report_modals_answer_in_time_from_the_first_request(
    bot: BotUnderTest,
) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"  # bob is in routing.yaml by e-mail only
    message = bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000100"))
    bot.slack.latency = SLOW

    # The first requests this process gets.
    helped, mine, cases, report, shortcut = await answered_in_time(
        bot.command("U0REPORTER", "help", settle=False),
        bot.command("U0REPORTER", "mine", settle=False),
        bot.command("U0BOB", "cases", settle=False),
        bot.command("U0REPORTER", "report it can't parse 31/02", "C0CODE", settle=False),
        bot.interact(shortcut_payload("U0REPORTER", "C0SUPPORT", message), settle=False),
    )
    await bot.settle()

    assert "/loopkeeper report" in helped["text"]
    assert "haven't reported anything" in mine["text"]
    # Bob had to be looked up in Slack (users.info): his answer came after the ack.
    assert [r["text"] for r in bot.slack.responses] == ["You have no open cases. 🎉"]
    assert len(bot.slack.calls_to("views.open")) == 2  # both modals, opened after the acks

    views = [c["view"] for c in bot.slack.calls_to("views.open")]
    by_title = {v["title"]["text"]: v for v in views}
    free_form, flagged = by_title["Report an edge case"], by_title["Report AI output"]
    await answered_in_time(
        bot.interact(
            view_submission("U0REPORTER", free_form, {"category": "edge_case", "wrong": "31/02"}),
            settle=False,
        ),
        bot.interact(
            view_submission("U0REPORTER", flagged, {"category": "hallucination"}), settle=False
        ),
    )
    await bot.settle()

    cases_filed = await bot.runtime.store.list_cases()
    assert sorted(c.category_id for c in cases_filed) == ["edge_case", "hallucination"]
    [flagged_case] = [c for c in cases_filed if c.category_id == "hallucination"]
    assert flagged_case.output_excerpt == AI_TEXT


async def test_feedback_button_answers_in_time(bot: BotUnderTest) -> None:
    bot.slack.latency = SLOW
    message = ai_message(
        "1700000000.000200",
        blocks=[
            {
                "type": "context_actions",
                "elements": [
                    {
                        "type": "feedback_buttons",
                        "action_id": "feedback",
                        "positive_button": {
                            "text": {"type": "plain_text", "text": "Good"},
                            "value": "good",
                        },
                        "negative_button": {
                            "text": {"type": "plain_text", "text": "Bad"},
                            "value": "bad",
                        },
                    }
                ],
            }
        ],
    )
    payload = button_press("U0REPORTER", "feedback", "bad", channel="C0SUPPORT")
    payload["message"] = message
    payload["actions"][0]["type"] = "feedback_buttons"

    await answered_in_time(bot.interact(payload, settle=False))
    await bot.settle()

    [case] = await bot.runtime.store.list_cases()
    assert case.output_ts == "1700000000.000200"


async def test_triage_buttons_modals_and_thread_replies_answer_in_time(bot: BotUnderTest) -> None:
    # Bob (governance owner, in routing.yaml by e-mail only) triages: who he is takes a
    # users.info call, which is where the old listeners spent the window.
    bot.slack.users["bob@example.com"] = "U0BOB"
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000300"))
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000300")
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    case_id = str(case.id)
    bot.slack.latency = SLOW

    await answered_in_time(
        bot.interact(button_press("U0BOB", "case_acknowledge", case_id), settle=False)
    )
    await bot.settle()
    assert (await current(bot, case.id)).status is CaseStatus.acknowledged

    modal_buttons = [
        "case_resolve",
        "case_reassign",
        "case_needs_info",
        "case_wont_fix",
        "case_duplicate",
    ]
    await answered_in_time(
        *(bot.interact(button_press("U0BOB", b, case_id), settle=False) for b in modal_buttons)
    )
    await bot.settle()
    assert sorted(v["view"]["callback_id"] for v in bot.slack.calls_to("views.open")) == sorted(
        b + "_modal" for b in modal_buttons
    )

    async def submit(user: str, callback_id: str, values: dict[str, str | None]) -> Any:
        [body] = await answered_in_time(
            bot.interact(view_submission(user, opened(bot, callback_id), values), settle=False)
        )
        await bot.settle()
        return body

    await submit("U0BOB", "case_needs_info_modal", {"question": "Which customer?"})
    assert (await current(bot, case.id)).status is CaseStatus.needs_info

    await answered_in_time(
        bot.interact(
            button_press("U0REPORTER", "case_answer", case_id, channel="D0DM"), settle=False
        )
    )
    await bot.settle()
    await submit("U0REPORTER", "case_answer_modal", {"answer": "ACME Pty"})
    assert (await current(bot, case.id)).status is CaseStatus.acknowledged

    await submit("U0BOB", "case_reassign_modal", {"person": "U0DAVE"})
    assert (await current(bot, case.id)).owner == "dave"
    await submit("U0BOB", "case_resolve_modal", {"reason": "prompt_fix", "note": "fixed"})
    assert (await current(bot, case.id)).status is CaseStatus.resolved
    refused = await submit("U0BOB", "case_wont_fix_modal", {"reason": "no"})
    assert refused is not None and "reason" in refused["errors"]  # closed already: said inline
    await submit("U0BOB", "case_duplicate_modal", {"original": "not a number"})

    card = await current(bot, case.id)
    reply = {
        "type": "message",
        "channel": "C0TRIAGE",
        "user": "U0NEWBIE",  # not in routing.yaml: looked up in Slack
        "text": "Seen this on staging too",
        "ts": "1800000001.000001",
        "thread_ts": card.slack_card_ts,
    }
    await answered_in_time(bot.send_event(reply, process=False))
    await bot.settle()
    timeline = await bot.runtime.store.timeline(card.id)  # type: ignore[arg-type]
    assert [e.detail["text"] for e in timeline if e.kind == "comment"] == [
        "Seen this on staging too"
    ]

    bot.slack.latency = 0
    await bot.deliver()
    [*_, update] = bot.slack.calls_to("chat.update")
    assert "resolved" in update["text"]


async def current(bot: BotUnderTest, case_id: int | None) -> Any:
    assert case_id is not None
    found = await bot.runtime.store.get_case(case_id)
    return None if found is None else await with_slack_card(bot.runtime.store, found)


async def test_a_stranger_is_refused_after_the_answer_when_slack_is_slow(
    bot: BotUnderTest,
) -> None:
    """Who clicked is not known in time: the modal opens within the trigger's life and then
    turns into the refusal; a submission closes the modal and the refusal follows by DM."""
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000400"))
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000400")
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    bot.slack.latency = SLOW

    await answered_in_time(
        bot.interact(button_press("U0NEWBIE", "case_resolve", str(case.id)), settle=False)
    )
    await bot.settle()

    [shown] = bot.slack.calls_to("views.open")
    [refusal] = bot.slack.calls_to("views.update")
    assert str(refusal["view_id"]).startswith("V")  # the id views.open answered with
    assert refusal["view"]["blocks"][0]["text"]["text"].startswith(
        f"Only Alice, Bob or Carol can change case #{case.id}"
    )

    [answer] = await answered_in_time(
        bot.interact(
            view_submission("U0OTHERSTRANGER", shown["view"], {"reason": "prompt_fix"}),
            settle=False,
        )
    )
    await bot.settle()

    assert answer is None  # the modal closed
    [told] = [
        c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "U0OTHERSTRANGER"
    ]
    assert told["text"].startswith(f"Only Alice, Bob or Carol can change case #{case.id}")
    assert (await current(bot, case.id)).status is CaseStatus.new


async def test_a_modal_slack_refuses_after_the_ack_is_logged_in_one_line(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.fail("views.open", Failure(200, "expired_trigger_id"))

    with caplog.at_level(logging.WARNING):
        [answer] = await answered_in_time(bot.command("U0REPORTER", "report", settle=False))
        await bot.settle()

    assert answer is None  # Slack got its ack; the modal is what failed
    assert bot.slack.refused[0].method == "views.open"
    [line] = [r for r in caplog.records if "failed after its answer" in r.getMessage()]
    assert "expired_trigger_id" in line.getMessage()
    assert line.exc_info is None and "Traceback" not in caplog.text


async def test_shutdown_waits_for_the_work_that_follows_an_ack(
    bot: BotUnderTest, database_url: str
) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000500"))
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000500")
    [case] = await bot.runtime.store.list_cases()
    looking_up = bot.slack.holds["users.info"] = asyncio.Event()
    press = button_press("U0BOB", "case_acknowledge", str(case.id))
    await answered_in_time(bot.interact(press, settle=False))  # who Bob is: not known yet

    closing = asyncio.create_task(bot.runtime.close())  # SIGTERM right after the ack
    looking_up.set()
    await closing

    store = SqlCaseStore(create_engine(database_url))
    try:
        after = await store.get_case(case.id)  # type: ignore[arg-type]
    finally:
        await store.close()
    assert after is not None and after.status is CaseStatus.acknowledged
