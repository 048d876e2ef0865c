"""Teams triage end to end: Action.Execute verbs on the case card, thread replies, loop closure
and escalation to Teams users, the digest card, and one case worked in Slack and Teams at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import Case, CaseStatus
from digests.week import IsoWeek
from tests import teams_harness
from tests.cards import cases_with_slack_cards
from tests.harness import button_press
from tests.support.fake_connector import Failure, FakeConnector, Sent, card_of
from tests.teams_harness import (
    CONDUCT,
    HELPER_BOT,
    HELPERS,
    TEAM,
    TRIAGE,
    TeamsBotUnderTest,
    account,
    ai_message,
    card_texts,
    card_verbs,
    slack_off_bot,
    teams_routing,
)

# The Teams fixtures, by assignment: pytest finds fixtures among a module's names.
connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

DAN = account("dan")  # a reporter, not in routing.yaml
ALICE = account("alice")  # support-assistant's validation owner (found by e-mail)
DAVE = account("dave")  # owns another system
CAROL = account("carol")  # admin, with a `teams` id in routing.yaml
ERIN = account("erin")  # teams-helper's owner: Teams only
AI_TEXT = "The capital of Australia is Sydney."


def know_people(bot: TeamsBotUnderTest) -> None:
    """The member lookups answer these people's e-mails (Teams ids are not in routing.yaml)."""
    bot.connector.add_member(ALICE["id"], "Alice", "alice@example.com", "aad-alice")
    bot.connector.add_member(DAVE["id"], "Dave", "dave@example.com", "aad-dave")


async def flag(
    bot: TeamsBotUnderTest, who: dict[str, Any] = DAN, bot_id: str = "28:support-bot"
) -> Case:
    """`who` reports an AI message in Teams; everything is delivered. Returns the case."""
    await bot.install(TRIAGE)
    await bot.install(HELPERS)
    before = {c.id for c in await bot.runtime.store.list_cases()}
    status, _ = await bot.submit_report(
        who, ai_message(AI_TEXT, bot=bot_id), {"category": "hallucination"}
    )
    assert status == 200
    await bot.deliver()
    [case] = [c for c in await bot.runtime.store.list_cases() if c.id not in before]
    return case


async def current(bot: TeamsBotUnderTest, case: Case) -> Case:
    found = await bot.runtime.store.get_case(case.id or 0)
    assert found is not None
    return found


async def card_activity(bot: TeamsBotUnderTest, case: Case) -> str:
    posted = await bot.runtime.store.card_of(case.id or 0, "teams")
    assert posted is not None
    return posted.message_id


async def shown_card(bot: TeamsBotUnderTest, case: Case, channel: str = TRIAGE) -> dict[str, Any]:
    return bot.latest_card(channel, await card_activity(bot, case))


async def thread(bot: TeamsBotUnderTest, case: Case, channel: str = TRIAGE) -> list[Sent]:
    root = await card_activity(bot, case)
    return [s for s in bot.connector.to(channel) if s.kind == "reply" and s.activity_id == root]


def personal_messages(bot: TeamsBotUnderTest, user: dict[str, Any]) -> list[dict[str, Any]]:
    chats = {
        s.conversation_id
        for s in bot.connector.of_kind("create")
        if s.activity["members"] == [{"id": user["id"]}]
    }
    chats |= {f"a:1:dm-{user['name'].lower()}"}
    return [
        s.activity for s in bot.connector.sent if s.kind == "send" and s.conversation_id in chats
    ]


async def test_the_case_card_is_posted_to_the_teams_triage_channel(
    teams_bot: TeamsBotUnderTest,
) -> None:
    case = await flag(teams_bot)
    card = await shown_card(teams_bot, case)
    text = card_texts(card)
    assert "Case #1" in text and "Support Assistant" in text and AI_TEXT in text
    assert "Alice (validation)" in text
    assert card_verbs(card) == [
        "acknowledge",
        "resolve",
        "reassign",
        "needs_info",
        "wont_fix",
        "duplicate",
    ]
    conversation = await teams_bot.runtime.store.teams_conversation(TRIAGE)
    assert conversation is not None  # where it was posted came from the install


async def test_acknowledge_on_the_card_refreshes_it_for_everyone(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    know_people(bot)
    case = await flag(bot)

    status, body = await bot.execute(ALICE, "acknowledge", case.id or 0)
    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "acknowledged" in card_texts(body["value"])
    assert "acknowledge" not in card_verbs(body["value"])
    assert (await current(bot, case)).status is CaseStatus.acknowledged

    await bot.deliver()
    root = await card_activity(bot, case)
    [update] = [s for s in bot.connector.to(TRIAGE) if s.kind == "update"]
    assert update.activity_id == root  # the posted card, updated in place for everyone
    assert "acknowledged" in card_texts(await shown_card(bot, case))
    assert [r.activity["text"] for r in await thread(bot, case)] == ["✅ Acknowledged by Alice."]
    assert bot.slack.calls_to("chat.update")  # and Slack's copy of the card too
    timeline = await bot.runtime.store.timeline(case.id or 0)
    assert [e.actor for e in timeline if e.kind == "acknowledge"] == ["alice"]

    # Alice was found by the e-mail of a member lookup, once; then the cache answers.
    lookups = len(bot.connector.member_lookups)
    status, body = await bot.execute(ALICE, "acknowledge", case.id or 0)
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "is acknowledged, so it can't be acknowledged" in body["value"]
    assert len(bot.connector.member_lookups) == lookups


async def test_people_who_may_not_change_a_case_are_told_why(
    teams_bot: TeamsBotUnderTest,
) -> None:
    know_people(teams_bot)
    case = await flag(teams_bot)
    for who in (DAVE, DAN):
        status, body = await teams_bot.execute(who, "acknowledge", case.id or 0)
        assert status == 200
        assert body["type"] == "application/vnd.microsoft.activity.message"
        assert body["value"].startswith("Only Alice")
    assert (await current(teams_bot, case)).status is CaseStatus.new
    # the admin, known by the `teams` id in routing.yaml, may
    status, body = await teams_bot.execute(CAROL, "acknowledge", case.id or 0)
    assert body["type"] == "application/vnd.microsoft.card.adaptive"


async def test_resolving_tells_the_teams_reporter_in_their_chat(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    know_people(bot)
    case = await flag(bot)
    status, body = await bot.execute(
        ALICE,
        "resolve",
        case.id or 0,
        {"resolve_reason": "prompt_fixed", "resolve_note": "The prompt now cites the atlas."},
    )
    assert status == 200
    assert card_verbs(body["value"]) == []  # closed: no more buttons
    await bot.deliver()
    messages = [m["text"] for m in personal_messages(bot, DAN)]
    assert messages[0].startswith("Thanks, your report opened case #1")
    assert messages[1].startswith("Case #1 that you reported was resolved")
    assert "The prompt now cites the atlas." in messages[1]
    assert len(bot.connector.of_kind("create")) == 1  # the 1:1 chat is opened once, then reused
    assert card_verbs(await shown_card(bot, case)) == []


async def test_needs_info_asks_the_reporter_who_answers_on_the_card(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    know_people(bot)
    case = await flag(bot)
    status, body = await bot.execute(ALICE, "needs_info", case.id or 0, {"question": ""})
    assert body["value"] == "Write the question for the reporters."
    status, body = await bot.execute(
        ALICE, "needs_info", case.id or 0, {"question": "Which answer did you get?"}
    )
    assert "waiting for information" in card_texts(body["value"])
    await bot.deliver()
    [ask] = [m for m in personal_messages(bot, DAN) if card_of(m)]
    ask_card = card_of(ask)
    assert ask_card is not None and "Which answer did you get?" in card_texts(ask_card)
    assert card_verbs(ask_card) == ["answer"]

    status, body = await bot.execute(
        DAN, "answer", case.id or 0, {"answer_text": "Sydney, twice."}, conversation="a:1:x"
    )
    assert status == 200
    assert "Your answer was added to case #1" in card_texts(body["value"])
    assert (await current(bot, case)).status is CaseStatus.acknowledged
    await bot.deliver()
    assert any("Sydney, twice." in r.activity["text"] for r in await thread(bot, case))

    # only reporters may answer
    await bot.execute(ALICE, "needs_info", case.id or 0, {"question": "And then?"})
    status, body = await bot.execute(ALICE, "answer", case.id or 0, {"answer_text": "me"})
    assert "Only the people who reported case #1 can answer" in body["value"]


async def test_reassign_wont_fix_and_duplicate_from_the_card(teams_bot: TeamsBotUnderTest) -> None:
    bot = teams_bot
    know_people(bot)
    first = await flag(bot)
    second = await flag(bot, account("eve"))  # another message: another case
    assert first.id != second.id

    _, body = await bot.execute(ALICE, "reassign", second.id or 0, {})
    assert body["value"] == "Choose a person or a role."
    _, body = await bot.execute(ALICE, "reassign", second.id or 0, {"reassign_person": "nobody"})
    assert "isn't in routing.yaml" in body["value"]
    _, body = await bot.execute(ALICE, "reassign", second.id or 0, {"reassign_role": "governance"})
    assert "Bob (governance)" in card_texts(body["value"])
    _, body = await bot.execute(CAROL, "reassign", second.id or 0, {"reassign_person": "erin"})
    assert (await current(bot, second)).owner == "erin"

    _, body = await bot.execute(CAROL, "duplicate", second.id or 0, {"original": "x"})
    assert body["value"] == "Give a case number, like 42."
    _, body = await bot.execute(CAROL, "duplicate", second.id or 0, {"original": f"#{first.id}"})
    assert "closed as a duplicate" in card_texts(body["value"])
    assert (await current(bot, first)).report_count == 2

    _, body = await bot.execute(ALICE, "wont_fix", first.id or 0, {"wont_fix_reason": ""})
    assert body["value"] == "Say why it won't be fixed."
    _, body = await bot.execute(ALICE, "wont_fix", first.id or 0, {"wont_fix_reason": "By design"})
    assert "closed as won't fix" in card_texts(body["value"])
    await bot.deliver()

    # Erin (a `teams` id, no `slack` id, never talked to the bot) is @mentioned in the thread.
    mentions = [
        r.activity
        for r in await thread(bot, second)
        if any(e.get("type") == "mention" for e in r.activity.get("entities") or [])
    ]
    assert len(mentions) == 1
    assert mentions[0]["entities"][0]["mentioned"] == {"id": "29:1erin", "name": "Erin"}
    assert "assigned case #2 to you" in mentions[0]["text"]
    # both reporters heard how it ended, each once per closed case
    assert any("closed as won't fix" in m["text"] for m in personal_messages(bot, DAN))
    assert any(
        "merged into another case" in m["text"] for m in personal_messages(bot, account("eve"))
    )


async def test_replies_in_the_card_thread_go_on_the_timeline(teams_bot: TeamsBotUnderTest) -> None:
    bot = teams_bot
    know_people(bot)
    case = await flag(bot)
    root = await card_activity(bot, case)
    in_thread = f"{TRIAGE};messageid={root}"
    await bot.say(ALICE, in_thread, "<at>loopkeeper</at> <p>Looking at the retrieval step.</p>")
    await bot.say(account("eve"), in_thread, "Same here with Perth.")
    await bot.say(ALICE, TRIAGE, "Not in a thread: ignored.")
    await bot.say(
        {"id": "28:other-bot", "name": "Other"}, in_thread, "bots are not recorded", replyToId=root
    )
    comments = [
        (e.actor, e.detail["text"])
        for e in await bot.runtime.store.timeline(case.id or 0)
        if e.kind == "comment"
    ]
    assert comments == [
        ("alice", "Looking at the retrieval step."),
        ("teams:aad-eve", "Same here with Perth."),
    ]


async def test_saying_anything_in_the_1_1_chat_gets_the_help(teams_bot: TeamsBotUnderTest) -> None:
    bot = teams_bot
    chat = "a:1:dm-dan"
    status, _ = await bot.say(DAN, chat, "hello?", id="f:hello")
    assert status == 200
    await bot.say(DAN, chat, "hello?", id="f:hello")  # Teams sending it again: one answer
    await bot.say(DAN, TRIAGE, "in a channel, not said to the bot: no answer")
    await bot.deliver()

    sent = [s for s in bot.connector.sent if s.kind == "send"]
    assert [s.conversation_id for s in sent] == [chat]
    assert "Report AI output" in sent[0].activity["text"]
    assert "Support Assistant" in sent[0].activity["text"]  # the systems it routes for


async def test_a_reporter_replying_in_the_thread_answers_the_question(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    know_people(bot)
    case = await flag(bot)
    await bot.execute(ALICE, "needs_info", case.id or 0, {"question": "Which city?"})
    root = await card_activity(bot, case)
    await bot.say(DAN, f"{TRIAGE};messageid={root}", "Sydney")
    assert (await current(bot, case)).status is CaseStatus.acknowledged


async def test_escalation_reaches_teams_users_by_mention_then_in_their_chat(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    case = await flag(bot, bot_id=HELPER_BOT)
    assert case.owner == "erin"  # reachable in Teams: not handed to the conductor
    await bot.runtime.timers.fire_due()
    await bot.deliver()
    [mention] = [r.activity for r in await thread(bot, case, HELPERS) if r.activity.get("entities")]
    assert mention["text"].startswith("<at>Erin</at> Case #1 was routed to you")

    # Erin talks to the bot once: from then on, she gets 1:1 messages.
    await bot.say(ERIN, "a:1:dm-erin", "hello")
    other = await flag(bot, account("eve"), bot_id=HELPER_BOT)
    await bot.runtime.timers.fire_due()
    await bot.deliver()
    help_reply, direct = [s.activity for s in bot.connector.to("a:1:dm-erin") if s.kind == "send"]
    assert "Report AI output" in help_reply["text"]  # her hello is answered
    assert direct["text"].startswith(f"Case #{other.id} was routed to you")
    assert bot.connector.of_kind("create")[-1].activity["members"] != [{"id": ERIN["id"]}]


async def test_a_case_worked_in_slack_and_teams_stays_consistent_on_both_cards(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    know_people(bot)
    await bot.install(TRIAGE)
    # flagged in Slack
    bot.slack.add_message(
        "C0SUPPORT",
        {"type": "message", "ts": "1700000000.000100", "bot_id": "B0SUPPORT", "text": AI_TEXT},
    )
    assert (await bot.react("U0DAN", "x", "C0SUPPORT", "1700000000.000100")).status == 200
    await bot.deliver()
    [case] = await cases_with_slack_cards(bot.runtime.store)
    assert case.slack_card_ts is not None
    assert "Case #1" in card_texts(await shown_card(bot, case))  # the Teams copy too

    # acknowledged in Slack
    response = await bot.interact(
        button_press("U0ALICE", "case_acknowledge", str(case.id), message_ts=case.slack_card_ts)
    )
    assert response.status == 200
    await bot.deliver()
    teams_card = await shown_card(bot, case)
    assert "acknowledged" in card_texts(teams_card)
    assert "acknowledge" not in card_verbs(teams_card)

    # resolved in Teams
    _, body = await bot.execute(
        ALICE, "resolve", case.id or 0, {"resolve_reason": "data_fixed", "resolve_note": "done"}
    )
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    await bot.deliver()
    slack_card = bot.slack.calls_to("chat.update")[-1]["blocks"]
    assert any("*Status*\nresolved" in f["text"] for b in slack_card for f in b.get("fields", []))
    assert not [b for b in slack_card if b["type"] == "actions"]
    teams_card = await shown_card(bot, case)
    assert "resolved" in card_texts(teams_card) and card_verbs(teams_card) == []
    # each platform's thread heard both moves, in order
    teams_thread = [r.activity["text"] for r in await thread(bot, case)]
    assert teams_thread[0].startswith("✅ Acknowledged by Alice")
    assert teams_thread[1].startswith("🎉 Resolved by Alice (data fixed)")
    slack_thread = [
        c["text"]
        for c in bot.slack.calls_to("chat.postMessage")
        if c.get("thread_ts") == case.slack_card_ts
    ]
    assert slack_thread[-2:] == teams_thread[:2]
    # the Slack reporter hears it in Slack, nobody in Teams
    assert any(c["channel"] == "U0DAN" for c in bot.slack.calls_to("chat.postMessage"))
    assert bot.connector.of_kind("create") == []


async def test_a_throttled_card_is_posted_once_after_retry_after(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    bot.connector.fail("send", Failure(429, retry_after=30))
    await bot.install(TRIAGE)
    await bot.submit_report(DAN, ai_message(AI_TEXT), {"category": "hallucination"})
    await bot.deliver()
    assert [s for s in bot.connector.to(TRIAGE) if s.kind == "send"] == []
    bot.clock.advance(timedelta(seconds=20))
    await bot.deliver()
    assert [s for s in bot.connector.to(TRIAGE) if s.kind == "send"] == []  # honours Retry-After
    bot.clock.advance(timedelta(seconds=15))
    await bot.deliver()
    await bot.deliver()
    assert len([s for s in bot.connector.to(TRIAGE) if s.kind == "send"]) == 1


async def test_the_digest_is_posted_as_an_adaptive_card_in_teams(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    await flag(bot)
    digest = bot.routing.digests[0]
    week = IsoWeek.containing(bot.clock.now(), digest.schedule.timezone)
    assert len(await bot.runtime.digests.post_now(digest, week)) >= 2
    await bot.deliver()
    [post] = [s for s in bot.connector.to(CONDUCT) if s.kind == "send"]
    card = card_of(post.activity)
    assert card is not None and card["version"] == "1.5"
    words = card_texts(card)
    assert "Support Assistant" in words and "Suggested priorities" in words
    assert post.activity["summary"]  # the digest's headline, for the notification
    assert any(c["channel"] == "C0CONDUCT" for c in bot.slack.calls_to("chat.postMessage"))


async def test_an_unknown_card_action_is_answered_not_failed(teams_bot: TeamsBotUnderTest) -> None:
    status, body = await teams_bot.execute(DAN, "explode", 1)
    assert status == 200 and "doesn't know that action" in body["value"]
    status, body = await teams_bot.execute(DAN, "acknowledge", 999)
    assert status == 200 and "There is no case #999" in body["value"]
    status, body = await teams_bot.invoke(
        "adaptiveCard/action", DAN, {"action": {"type": "Action.Execute", "verb": "refresh"}}
    )
    assert status == 200 and "names no case" in body["value"]


# --- Teams alone (Slack off) ----------------------------------------------------------------------


@pytest.fixture
async def teams_only(
    database_url: str, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[TeamsBotUnderTest]:
    async with slack_off_bot(
        database_url, connector, teams_routing(tmp_path / "routing.yaml")
    ) as bot:
        yield bot


async def test_with_slack_off_teams_finds_owners_by_email_and_mentions_them(
    teams_only: TeamsBotUnderTest,
) -> None:
    bot = teams_only
    know_people(bot)
    case = await flag(bot)
    assert case.owner == "alice"
    assert "Case #1" in card_texts(await shown_card(bot, case))  # announced without Slack
    await bot.runtime.timers.fire_due()
    await bot.deliver()
    [mention] = [r.activity for r in await thread(bot, case) if r.activity.get("entities")]
    assert mention["entities"][0]["mentioned"]["id"] == ALICE["id"]  # found by e-mail
    assert (TEAM, "*") in bot.connector.member_lookups  # among the triage team's members
    cached = await bot.runtime.store.cached_user("alice", "teams")
    assert cached == (True, ALICE["id"])
