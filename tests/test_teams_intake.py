"""Teams intake end to end: the reportAiOutput message extension and the AI feedback loop,
Activity JSON posted to /api/messages, the Bot Connector faked, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from bot.core.models import Case, Channel
from tests import teams_harness
from tests.support.fake_connector import Sent, card_of
from tests.teams_harness import (
    CHAT,
    HELPER_BOT,
    HELPERS,
    TRIAGE,
    TeamsBotUnderTest,
    account,
    ai_message,
    card_texts,
)

# The Teams fixtures, by assignment: pytest finds fixtures among a module's names.
connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

DAN = account("dan")
EVE = account("eve")
AI_TEXT = "The capital of Australia is Sydney."


async def only_case(bot: TeamsBotUnderTest) -> Case:
    cases = await bot.runtime.store.list_cases()
    assert len(cases) == 1
    return cases[0]


def sends(bot: TeamsBotUnderTest, conversation: str) -> list[Sent]:
    return [s for s in bot.connector.to(conversation) if s.kind == "send"]


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in card["body"] if str(e.get("type", "")).startswith("Input.")}


async def test_fetch_task_shows_the_report_form_with_the_message(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, body = await teams_bot.fetch_task(DAN, ai_message(AI_TEXT))
    assert status == 200
    task = body["task"]
    assert task["type"] == "continue"
    assert task["value"]["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = task["value"]["card"]["content"]
    assert AI_TEXT in card_texts(card)
    fields = inputs(card)
    assert set(fields) == {"category", "severity", "wrong", "expected"}
    assert [c["value"] for c in fields["category"]["choices"]] == [
        c.id for c in teams_bot.routing.categories
    ]
    assert await teams_bot.runtime.store.list_cases() == []


async def test_submitting_the_form_files_a_report_before_answering(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    message = ai_message(
        AI_TEXT, meta={"trace_id": "tr-42", "prompt_version": "v7", "model": "gpt-test"}
    )
    status, body = await bot.submit_report(
        DAN,
        message,
        {"category": "hallucination", "severity": "critical", "wrong": "It's Canberra."},
    )
    assert status == 200
    assert body["task"]["type"] == "message"
    assert "case #1" in body["task"]["value"]
    # committed before the answer: the case is there, nothing was sent yet
    case = await only_case(bot)
    assert case.output_key == f"teams:{CHAT}:{message['id']}"
    assert case.output_platform == "teams"
    assert case.system_id == "support-assistant"  # by the poster's bot id (teams_bot_ids)
    assert (case.trace_id, case.prompt_version, case.model) == ("tr-42", "v7", "gpt-test")
    assert case.severity.value == "critical"
    assert case.output_excerpt == AI_TEXT
    assert case.output_permalink == message["linkToMessage"]
    timeline = await bot.runtime.store.timeline(case.id or 0)
    assert timeline[0].detail["basis"] == "bot"
    [mine] = await bot.runtime.store.reports_by("teams:aad-dan")
    assert mine.report.channel is Channel.teams
    assert mine.report.comment == "It's Canberra."
    assert bot.connector.sent == []

    await bot.deliver()
    # the card in the Teams triage channel (and Slack's, this system triages in both)
    [card_post] = [s for s in bot.connector.to(TRIAGE) if s.kind == "send"]
    card = card_of(card_post.activity)
    assert card is not None and "Case #1" in card_texts(card)
    assert "trace tr-42" in card_texts(card)
    # in Slack: the card, and the routed owner's DM
    assert [c["channel"] for c in bot.slack.calls_to("chat.postMessage")] == [
        "C0TRIAGE",
        "U0ALICE",
    ]
    # the confirmation, proactively in a 1:1 chat opened for the reporter
    [created] = bot.connector.of_kind("create")
    assert created.activity["members"] == [{"id": DAN["id"]}]
    [confirmation] = sends(bot, created.conversation_id)
    assert "opened case #1" in confirmation.activity["text"]


async def test_form_errors_are_shown_in_the_form(teams_bot: TeamsBotUnderTest) -> None:
    message = ai_message(AI_TEXT)
    status, body = await teams_bot.submit_report(
        DAN, message, {"category": "unsafe", "severity": "low", "wrong": "bad"}
    )
    assert status == 200
    assert body["task"]["type"] == "continue"
    card = body["task"]["value"]["card"]["content"]
    assert "raise the severity, not lower it" in card_texts(card)
    assert inputs(card)["wrong"]["value"] == "bad"  # what was typed is kept
    status, body = await teams_bot.submit_report(DAN, message, {"wrong": "no category"})
    assert "Choose what kind of problem" in card_texts(body["task"]["value"]["card"]["content"])
    assert await teams_bot.runtime.store.list_cases() == []


async def test_text_markers_link_the_trace(teams_bot: TeamsBotUnderTest) -> None:
    message = ai_message("Refunds take 90 days. [trace:abc-123] [prompt:v12]", bot=HELPER_BOT)
    await teams_bot.submit_report(DAN, message, {"category": "hallucination"})
    case = await only_case(teams_bot)
    assert (case.system_id, case.trace_id, case.prompt_version) == (
        "teams-helper",
        "abc-123",
        "v12",
    )
    await teams_bot.deliver()
    # the card, then its owner @mentioned in its thread (no 1:1 chat with them yet)
    assert [s.kind for s in teams_bot.connector.to(HELPERS)] == ["send", "reply"]
    assert teams_bot.slack.calls_to("chat.postMessage") == []  # a Teams-only system


async def test_an_unknown_bot_goes_to_the_fallback_system(teams_bot: TeamsBotUnderTest) -> None:
    await teams_bot.submit_report(
        DAN, ai_message(AI_TEXT, bot="28:someone-else"), {"category": "other"}
    )
    case = await only_case(teams_bot)
    assert case.system_id == "support-assistant"
    timeline = await teams_bot.runtime.store.timeline(case.id or 0)
    assert timeline[0].detail["basis"] == "fallback"


async def test_a_retried_submit_files_one_report(teams_bot: TeamsBotUnderTest) -> None:
    message = ai_message(AI_TEXT)
    data = {"category": "hallucination"}
    first = await teams_bot.submit_report(DAN, message, data, activity_id="retry-1")
    again = await teams_bot.submit_report(DAN, message, data, activity_id="retry-1")
    assert first[0] == again[0] == 200
    assert "already filed" in again[1]["task"]["value"]
    case = await only_case(teams_bot)
    assert case.report_count == 1


async def test_two_people_one_message_one_case_and_a_reflag_updates(
    teams_bot: TeamsBotUnderTest,
) -> None:
    message = ai_message(AI_TEXT)
    await teams_bot.submit_report(DAN, message, {"category": "hallucination"})
    await teams_bot.submit_report(EVE, message, {"category": "hallucination", "wrong": "!"})
    _, body = await teams_bot.submit_report(DAN, message, {"category": "unsafe"})
    assert "Updated your report on case #1" in body["task"]["value"]
    case = await only_case(teams_bot)
    assert case.report_count == 2
    assert case.severity.value == "critical"


async def test_ai_feedback_dislike_files_a_report_and_like_is_ignored(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, body = await teams_bot.feedback(DAN, "1700000000999", "like")
    assert (status, body) == (200, {})
    assert await teams_bot.runtime.store.list_cases() == []

    status, body = await teams_bot.feedback(
        DAN, "1700000000999", "dislike", "It made up a refund policy"
    )
    assert status == 200
    case = await only_case(teams_bot)
    assert case.output_key == f"teams:{CHAT}:1700000000999"
    assert case.category_id == "other"
    [mine] = await teams_bot.runtime.store.reports_by("teams:aad-dan")
    assert mine.report.comment == "It made up a refund policy"
    await teams_bot.deliver()
    [created] = teams_bot.connector.of_kind("create")
    assert "opened case #1" in sends(teams_bot, created.conversation_id)[0].activity["text"]


async def test_feedback_of_the_assistant_hosted_in_this_app_is_attributed_to_it(
    teams_bot: TeamsBotUnderTest,
) -> None:
    activity = teams_bot.activity(
        "invoke",
        DAN,
        CHAT,
        conversation_type="groupChat",
        name="message/submitAction",
        value={
            "actionName": "feedback",
            "actionValue": {"reaction": "dislike", "feedback": '{"feedbackText": "wrong"}'},
        },
        replyToId="1700000000777",
        recipient={"id": HELPER_BOT, "name": "Teams Helper"},
    )
    status, _ = await teams_bot.post_activity(activity)
    assert status == 200
    case = await only_case(teams_bot)
    assert case.system_id == "teams-helper"


async def test_unknown_invokes_and_commands_are_answered_and_ignored(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, body = await teams_bot.invoke("composeExtension/query", DAN, {"commandId": "x"})
    assert (status, body) == (200, {})
    status, body = await teams_bot.invoke(
        "composeExtension/fetchTask", DAN, {"commandId": "somethingElse"}
    )
    assert status == 200 and body["task"]["type"] == "message"
    status, body = await teams_bot.invoke(
        "message/submitAction", DAN, {"actionName": "other"}, replyToId="1"
    )
    assert (status, body) == (200, {})
    assert await teams_bot.runtime.store.list_cases() == []


async def test_every_activity_refreshes_its_conversation_reference(
    teams_bot: TeamsBotUnderTest,
) -> None:
    store = teams_bot.runtime.store
    await teams_bot.install(TRIAGE)
    found = await store.teams_conversation(TRIAGE)
    assert found is not None and found.service_url == teams_bot.connector.url
    assert found.tenant_id == "tenant-1" and found.team_id is not None
    await teams_bot.say(DAN, "a:1:dm-dan", "hi")
    personal = await store.personal_teams_conversation(DAN["id"])
    assert personal is not None and personal.id == "a:1:dm-dan"
    user = await store.teams_user("aad-dan")
    assert user is not None and user.user_id == DAN["id"]
