"""Triage end to end: the case card, its buttons and modals, loop closure, thread replies."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.core.models import Case, CaseStatus
from tests.cards import CaseWithCard, cases_with_slack_cards, with_slack_card
from tests.harness import BotUnderTest, button_press, view_submission
from tests.support.fake_slack import Failure

AI_TEXT = "The capital of Australia is Sydney."


async def flag(
    bot: BotUnderTest, user: str, ts: str, emoji: str = "x", channel: str = "C0SUPPORT"
) -> CaseWithCard:
    """`user` flags the AI message `ts`; the card is delivered. Returns the case."""
    if ts not in bot.slack.messages[channel]:
        bot.slack.add_message(
            channel, {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": AI_TEXT}
        )
    response = await bot.react(user, emoji, channel, ts)
    assert response.status == 200
    await bot.deliver()
    cases = [c for c in await bot.runtime.store.list_cases() if c.output_ts == ts]
    assert len(cases) == 1
    return await with_slack_card(bot.runtime.store, cases[0])


async def current(bot: BotUnderTest, case: Case) -> CaseWithCard:
    assert case.id is not None
    found = await bot.runtime.store.get_case(case.id)
    assert found is not None
    return await with_slack_card(bot.runtime.store, found)


def posted(bot: BotUnderTest, channel: str) -> list[dict[str, Any]]:
    return [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == channel]


def thread_replies(bot: BotUnderTest, case: CaseWithCard) -> list[str]:
    return [
        c["text"]
        for c in bot.slack.calls_to("chat.postMessage")
        if c.get("thread_ts") and c.get("thread_ts") == case.slack_card_ts
    ]


def ephemerals(bot: BotUnderTest, user: str) -> list[str]:
    return [c["text"] for c in bot.slack.calls_to("chat.postEphemeral") if c["user"] == user]


def button_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def press(bot: BotUnderTest, user: str, action: str, case: Case) -> None:
    response = await bot.interact(button_press(user, action, str(case.id)))
    assert response.status == 200
    await bot.deliver()


async def open_and_submit(
    bot: BotUnderTest, user: str, action: str, case: Case, values: dict[str, str | None]
) -> dict[str, Any] | None:
    await press(bot, user, action, case)
    view = bot.slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == f"{action}_modal"
    response = await bot.interact(view_submission(user, view, values))
    assert response.status == 200
    await bot.deliver()
    text = await response.text()
    return await response.json() if text else None


async def test_case_card_is_posted_in_the_triage_channel_and_owner_gets_a_dm(
    bot: BotUnderTest,
) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.000100")

    [card] = posted(bot, "C0TRIAGE")
    assert card["text"].startswith(f"Case #{case.id} · high · Made-up or wrong facts")
    flat = str(card["blocks"])
    assert "Support Assistant" in flat and AI_TEXT in flat
    assert "<@U0ALICE>" in flat
    assert button_ids(card["blocks"]) == [
        "case_acknowledge",
        "case_resolve",
        "case_reassign",
        "case_needs_info",
        "case_wont_fix",
        "case_duplicate",
    ]
    case = await current(bot, case)
    assert case.slack_card_channel == "C0TRIAGE" and case.slack_card_ts

    await bot.runtime.timers.fire_due()
    await bot.deliver()

    [dm] = posted(bot, "U0ALICE")
    assert f"Case #{case.id} was routed to you" in dm["text"]
    assert "archives/C0TRIAGE" in dm["text"]  # links to the card


async def test_acknowledge_updates_the_card_and_replies_in_the_thread(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.000200")

    await press(bot, "U0ALICE", "case_acknowledge", case)

    case = await current(bot, case)
    assert case.status is CaseStatus.acknowledged
    assert case.acknowledged_at == bot.clock.now()
    update = bot.slack.calls_to("chat.update")[-1]
    assert update["ts"] == case.slack_card_ts
    assert "case_acknowledge" not in button_ids(update["blocks"])
    assert "acknowledged" in update["text"]
    assert thread_replies(bot, case) == ["✅ Acknowledged by Alice."]
    kinds = [e.kind for e in await bot.runtime.store.timeline(case.id)]  # type: ignore[arg-type]
    assert kinds[-1] == "acknowledge"


async def test_only_owners_and_admins_may_change_a_case(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.000300")

    await press(bot, "U0STRANGER", "case_acknowledge", case)
    await press(bot, "U0STRANGER", "case_resolve", case)

    assert (await current(bot, case)).status is CaseStatus.new
    refusals = ephemerals(bot, "U0STRANGER")
    assert len(refusals) == 2
    assert refusals[0].startswith(f"Only Alice, Bob or Carol can change case #{case.id}")
    assert bot.slack.calls_to("views.open") == []  # no modal opened for someone who can't submit it


async def test_admin_may_act_and_simultaneous_acknowledge_has_one_winner(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.000400")

    await asyncio.gather(
        bot.interact(button_press("U0ALICE", "case_acknowledge", str(case.id))),
        bot.interact(button_press("U0CAROL", "case_acknowledge", str(case.id))),
    )
    await bot.deliver()

    assert (await current(bot, case)).status is CaseStatus.acknowledged
    told = ephemerals(bot, "U0ALICE") + ephemerals(bot, "U0CAROL")
    assert told == [f"Case #{case.id} is acknowledged, so it can't be acknowledged."]
    acks = [e for e in await bot.runtime.store.timeline(case.id) if e.kind == "acknowledge"]  # type: ignore[arg-type]
    assert len(acks) == 1


async def test_resolve_closes_the_loop_with_every_reporter(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0FIRST", "1700000000.000500")
    await flag(bot, "U0SECOND", "1700000000.000500", emoji="warning")

    await open_and_submit(
        bot,
        "U0ALICE",
        "case_resolve",
        case,
        {"reason": "prompt_fixed", "note": "Prompt v8 checks capitals"},
    )

    case = await current(bot, case)
    assert case.status is CaseStatus.resolved and case.closed_at is not None
    for reporter in ("U0FIRST", "U0SECOND"):
        [dm] = posted(bot, reporter)
        assert f"Case #{case.id} that you reported was resolved" in dm["text"]
        assert "Prompt v8 checks capitals" in dm["text"]
    assert button_ids(bot.slack.calls_to("chat.update")[-1]["blocks"]) == []
    assert (
        thread_replies(bot, case)[-1]
        == "🎉 Resolved by Alice (prompt fixed): Prompt v8 checks capitals"
    )

    # A stale card's button is refused with a clear message.
    await press(bot, "U0ALICE", "case_acknowledge", case)
    assert ephemerals(bot, "U0ALICE") == [
        f"Case #{case.id} is resolved, so it can't be acknowledged."
    ]


async def test_flagging_again_after_closing_reopens_the_case(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0FIRST", "1700000000.000600")
    await open_and_submit(bot, "U0ALICE", "case_wont_fix", case, {"reason": "Works as designed"})
    assert (await current(bot, case)).status is CaseStatus.wont_fix
    [dm] = posted(bot, "U0FIRST")
    assert "closed as won't fix" in dm["text"] and "Works as designed" in dm["text"]

    bot.clock.advance(timedelta(days=2))
    again = await flag(bot, "U0SECOND", "1700000000.000600")

    assert again.id == case.id
    assert again.status is CaseStatus.new
    assert again.reopened_at == bot.clock.now()
    assert thread_replies(bot, again)[-1].startswith("🔁 Reopened")
    assert "case_acknowledge" in button_ids(bot.slack.calls_to("chat.update")[-1]["blocks"])


async def test_reassign_to_a_person_or_a_role(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"
    case = await flag(bot, "U0REPORTER", "1700000000.000700")

    await open_and_submit(bot, "U0ALICE", "case_reassign", case, {"person": "U0DAVE"})
    assert (await current(bot, case)).owner == "dave"
    assert "assigned case" in posted(bot, "U0DAVE")[-1]["text"]

    await open_and_submit(bot, "U0ALICE", "case_reassign", case, {"role": "governance"})
    case = await current(bot, case)
    assert (case.owner, case.owner_role and case.owner_role.value) == ("bob", "governance")
    assert "assigned case" in posted(bot, "U0BOB")[-1]["text"]
    assert thread_replies(bot, case)[-1] == "↪️ Reassigned to Bob by Alice."

    errors = await open_and_submit(bot, "U0ALICE", "case_reassign", case, {})
    assert errors is not None and "person" in errors["errors"]


async def test_needs_info_asks_reporters_and_their_answer_lands_in_the_thread(
    bot: BotUnderTest,
) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.000800")

    await open_and_submit(
        bot, "U0ALICE", "case_needs_info", case, {"question": "Which customer asked?"}
    )

    assert (await current(bot, case)).status is CaseStatus.needs_info
    [question] = posted(bot, "U0REPORTER")
    assert "Which customer asked?" in question["text"]
    assert button_ids(question["blocks"]) == ["case_answer"]

    # Someone else can't answer for the reporter.
    await bot.interact(button_press("U0STRANGER", "case_answer", str(case.id), channel="D0DM"))
    view = bot.slack.calls_to("views.open")[-1]["view"]
    refused = await bot.interact(view_submission("U0STRANGER", view, {"answer": "me!"}))
    assert "answer" in (await refused.json())["errors"]

    await bot.interact(button_press("U0REPORTER", "case_answer", str(case.id), channel="D0DM"))
    view = bot.slack.calls_to("views.open")[-1]["view"]
    await bot.interact(view_submission("U0REPORTER", view, {"answer": "ACME Pty, yesterday"}))
    await bot.deliver()

    case = await current(bot, case)
    assert case.status is CaseStatus.acknowledged
    assert thread_replies(bot, case)[-1] == "💬 A reporter answered: “ACME Pty, yesterday”"


async def test_duplicate_moves_reports_to_the_original(bot: BotUnderTest) -> None:
    original = await flag(bot, "U0FIRST", "1700000000.000900")
    copy = await flag(bot, "U0SECOND", "1700000000.001000")

    bad = await open_and_submit(bot, "U0ALICE", "case_duplicate", copy, {"original": "first one"})
    assert bad is not None and "original" in bad["errors"]
    bot.slack.calls_to("views.open").clear()
    await open_and_submit(bot, "U0ALICE", "case_duplicate", copy, {"original": f"#{original.id}"})

    copy, original = await current(bot, copy), await current(bot, original)
    assert copy.status is CaseStatus.duplicate
    assert (original.report_count, copy.report_count) == (2, 0)
    assert "merged into another case" in posted(bot, "U0SECOND")[-1]["text"]
    assert thread_replies(bot, original)[-1].startswith(
        f"🔗 Case #{copy.id} was marked a duplicate"
    )


async def test_replies_in_the_case_thread_go_on_the_timeline(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.001100")
    case = await current(bot, case)

    await bot.send_event(
        {
            "type": "message",
            "channel": "C0TRIAGE",
            "user": "U0DAVE",
            "text": "I can reproduce this on staging",
            "ts": "1800000001.000001",
            "thread_ts": case.slack_card_ts,
        }
    )
    await bot.send_event(
        {
            "type": "message",
            "channel": "C0TRIAGE",
            "user": "U0DAVE",
            "text": "unrelated",
            "ts": "1800000001.000002",
        }
    )

    comments = [e for e in await bot.runtime.store.timeline(case.id) if e.kind == "comment"]  # type: ignore[arg-type]
    assert [(c.actor, c.detail["text"]) for c in comments] == [
        ("dave", "I can reproduce this on staging")
    ]


async def test_owner_slack_cannot_reach_falls_back_to_the_conductor(bot: BotUnderTest) -> None:
    # 'unsafe' routes to governance: bob, who has only an e-mail address.
    case = await flag(bot, "U0REPORTER", "1700000000.001200", emoji="rotating_light")

    case = await current(bot, case)
    assert case.owner == "carol"
    assert thread_replies(bot, case) == [
        "⚠️ Bob (governance owner) can't be reached in Slack (no Slack id in routing.yaml and "
        "bob@example.com is not in Slack), so it went to the conductor, Carol."
    ]


async def test_owner_found_by_email_once_then_cached(bot: BotUnderTest) -> None:
    bot.slack.users["bob@example.com"] = "U0BOB"

    first = await flag(bot, "U0REPORTER", "1700000000.001300", emoji="rotating_light")
    second = await flag(bot, "U0REPORTER", "1700000000.001400", emoji="rotating_light")

    assert (first.owner, second.owner) == ("bob", "bob")
    assert len(bot.slack.calls_to("users.lookupByEmail")) == 1
    assert "<@U0BOB>" in str(posted(bot, "C0TRIAGE")[-1]["blocks"])


async def test_an_owner_not_in_slack_is_looked_up_again_only_after_a_while(
    bot: BotUnderTest,
) -> None:
    first = await flag(bot, "U0REPORTER", "1700000000.001310", emoji="rotating_light")
    second = await flag(bot, "U0REPORTER", "1700000000.001320", emoji="rotating_light")
    assert (first.owner, second.owner) == ("carol", "carol")  # bob is not in Slack
    assert len(bot.slack.calls_to("users.lookupByEmail")) == 1  # not once per flag

    bot.slack.users["bob@example.com"] = "U0BOB"  # bob joins Slack
    bot.clock.advance(timedelta(minutes=11))
    third = await flag(bot, "U0REPORTER", "1700000000.001330", emoji="rotating_light")

    assert third.owner == "bob"
    assert len(bot.slack.calls_to("users.lookupByEmail")) == 2


async def test_my_cases_command(bot: BotUnderTest) -> None:
    case = await flag(bot, "U0REPORTER", "1700000000.001500")

    mine = await (await bot.command("U0ALICE", "cases")).json()
    nobody = await (await bot.command("U0STRANGER", "cases")).json()

    assert (
        f"Case #{case.id} · high · Made-up or wrong facts · Support Assistant · new · ack due in 4h"
        in mine["text"]
    )
    assert "aren't in routing.yaml" in nobody["text"]


async def test_a_429_storm_delays_cards_but_delivers_each_exactly_once(bot: BotUnderTest) -> None:
    bot.slack.start_storm(0.3, Failure(429, "ratelimited", retry_after=5))
    for i in range(20):
        ts = f"1700000100.{i:06d}"
        bot.slack.add_message(
            "C0SUPPORT", {"type": "message", "ts": ts, "bot_id": "B0SUPPORT", "text": f"answer {i}"}
        )
        await bot.react(f"U0R{i:03d}", "x", "C0SUPPORT", ts)

    for _ in range(40):
        await bot.deliver()
        if await bot.runtime.store.pending_count() == 0:
            break
        bot.clock.advance(timedelta(seconds=30))

    assert await bot.runtime.store.pending_count() == 0
    assert len(bot.slack.refused) > 0
    cards = posted(bot, "C0TRIAGE")
    assert sorted(c["text"].split(" ·")[0] for c in cards) == sorted(
        f"Case #{i}" for i in range(1, 21)
    )
    assert len(cards) == 20
    for case in await cases_with_slack_cards(bot.runtime.store):
        assert case.slack_card_ts


async def test_a_crash_between_commit_and_post_still_posts_the_card_once(
    bot: BotUnderTest, database_url: str
) -> None:
    from bot.app.main import build_runtime

    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.001600", "bot_id": "B0SUPPORT", "text": "x"},
    )
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.001600")
    await bot.runtime.close()  # the process dies before its outbox ran

    restarted = await build_runtime(bot.runtime.settings, bot.routing, clock=bot.clock)
    try:
        await restarted.dispatcher.drain()
        await restarted.dispatcher.drain()
    finally:
        await restarted.close()

    assert len(posted(bot, "C0TRIAGE")) == 1
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1


@pytest.mark.parametrize(
    "failure",
    [
        # The answer never reaches the bot (a proxy drops it).
        pytest.param(Failure(502, "bad_gateway", done_anyway=True), id="answer-lost"),
        # Slack answers 500: a retry on the spot would post a second card.
        pytest.param(Failure(500, "internal_error", done_anyway=True), id="server-error"),
    ],
)
async def test_a_card_slack_posted_before_failing_is_not_posted_again(
    bot: BotUnderTest, failure: Failure
) -> None:
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.001700", "bot_id": "B0SUPPORT", "text": "x"},
    )
    bot.slack.fail("chat.postMessage", failure)  # Slack posts the card all the same
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.001700")

    await bot.deliver()
    [card] = posted(bot, "C0TRIAGE")
    [case] = await cases_with_slack_cards(bot.runtime.store)
    assert case.slack_card_ts is None  # the bot does not know it is there

    bot.clock.advance(timedelta(minutes=5))  # the outbox's retry comes due
    await bot.deliver()
    await bot.deliver()

    assert posted(bot, "C0TRIAGE") == [card]  # found by its metadata, not posted twice
    [case] = await cases_with_slack_cards(bot.runtime.store)
    [(ts, message)] = [
        (ts, m) for ts, m in bot.slack.messages["C0TRIAGE"].items() if "metadata" in m
    ]
    assert case.slack_card_ts == ts
    assert message["metadata"]["event_payload"] == {"case_id": case.id}
    [owner_dm] = posted(bot, "U0ALICE")  # and what waited for the card follows it
    assert f"/p{ts.replace('.', '')}" in owner_dm["text"]


async def test_a_card_retry_that_cannot_read_the_channel_still_posts_the_card(
    bot: BotUnderTest,
) -> None:
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.001800", "bot_id": "B0SUPPORT", "text": "x"},
    )
    bot.slack.fail("chat.postMessage", Failure(502, "bad_gateway"))  # not posted this time
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.001800")
    await bot.deliver()
    assert posted(bot, "C0TRIAGE") == []

    # The retry cannot look in the triage channel (say a scope is missing) ...
    bot.slack.fail("conversations.history", Failure(200, "missing_scope"))
    bot.clock.advance(timedelta(minutes=5))
    await bot.deliver()

    # ... so it posts: a second card would beat none.
    assert [c.method for c in bot.slack.refused][-1] == "conversations.history"
    assert len(posted(bot, "C0TRIAGE")) == 1
    [case] = await cases_with_slack_cards(bot.runtime.store)
    assert case.slack_card_ts is not None
