"""Slack intake end to end: signed requests to /slack/events, fake Web API, real database."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.core.models import CaseStatus, Channel, Report, Severity
from tests.harness import BotUnderTest, shortcut_payload, view_submission
from tests.support.fake_slack import Failure

AI_TEXT = "Our refund window is 90 days for all products."


def ai_message(ts: str, bot_id: str | None = "B0SUPPORT", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "ts": ts, "text": AI_TEXT, **extra}
    if bot_id:
        message["bot_id"] = bot_id
    return message


async def reports_of(bot: BotUnderTest, case_id: int) -> list[Report]:
    async with bot.runtime.store.transaction() as tx:
        return await tx.case_reports(case_id)


async def only_case(bot: BotUnderTest):  # type: ignore[no-untyped-def]
    cases = await bot.runtime.store.list_cases()
    assert len(cases) == 1, cases
    return cases[0]


# --- reactions ---------------------------------------------------------------------------


async def test_reaction_files_a_report_routed_to_the_owner_and_confirms(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000100"))

    response = await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000100")

    assert response.status == 200
    # Filed by the inbox worker right after the ack, before any outbox delivery ran.
    case = await only_case(bot)
    assert case.system_id == "support-assistant"
    assert case.category_id == "hallucination"
    assert case.severity is Severity.high
    assert case.owner == "alice"
    assert case.status is CaseStatus.new
    assert case.output_excerpt == AI_TEXT
    assert case.output_permalink == "https://acme.slack.com/archives/C0SUPPORT/p1700000000000100"
    assert case.acknowledge_due_at == case.created_at + timedelta(hours=4)
    [report] = await reports_of(bot, case.id)
    assert report.reporter_slack_id == "U0REPORTER"
    assert report.channel is Channel.slack_reaction

    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert await bot.deliver() == 3  # the confirmation, the case card, the owner's DM
    [dm] = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "U0ALICE"]
    assert dm["text"].startswith(f"Case #{case.id} was routed to you")
    [confirmation] = bot.slack.calls_to("chat.postEphemeral")
    assert confirmation["channel"] == "C0SUPPORT"
    assert confirmation["user"] == "U0REPORTER"
    assert f"case #{case.id}" in confirmation["text"]
    assert "Support Assistant" in confirmation["text"]
    assert "Alice" in confirmation["text"]


async def test_a_flagged_reply_in_a_thread_is_fetched_from_the_thread(bot: BotUnderTest) -> None:
    reply = {**ai_message("1700000000.000300"), "thread_ts": "1700000000.000200"}
    bot.slack.add_message("C0SUPPORT", reply)

    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000300")

    case = await only_case(bot)
    assert case.output_excerpt == AI_TEXT
    assert case.output_permalink == (
        "https://acme.slack.com/archives/C0SUPPORT/p1700000000000300"
        "?thread_ts=1700000000.000200&cid=C0SUPPORT"
    )


async def test_a_backlog_of_flags_is_filed_together_each_in_its_case(bot: BotUnderTest) -> None:
    for ts in ("1700000000.000400", "1700000000.000401"):
        bot.slack.add_message("C0SUPPORT", ai_message(ts))
    await bot.react("U0R1", "x", "C0SUPPORT", "1700000000.000400", process=False)
    await bot.react("U0R2", "x", "C0SUPPORT", "1700000000.000400", process=False)
    await bot.react("U0R1", "warning", "C0SUPPORT", "1700000000.000401", process=False)

    assert await bot.runtime.inbox.drain() == 3  # one round, one transaction

    cases = {c.output_ts: c for c in await bot.runtime.store.list_cases()}
    assert cases.keys() == {"1700000000.000400", "1700000000.000401"}
    assert cases["1700000000.000400"].report_count == 2
    assert cases["1700000000.000401"].category_id == "edge_case"
    await bot.deliver()
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 3
    cards = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "C0TRIAGE"]
    assert len(cards) == 2


async def test_a_backlog_reads_its_messages_in_one_history_call(bot: BotUnderTest) -> None:
    stamps = ["1700000000.000410", "1700000000.000411", "1700000000.000412"]
    for i, ts in enumerate(stamps):
        bot.slack.add_message("C0SUPPORT", ai_message(ts, text=f"answer {i}"))
    reply = {**ai_message("1700000000.000413", text="a reply"), "thread_ts": stamps[0]}
    bot.slack.add_message("C0SUPPORT", reply)
    for i, ts in enumerate([*stamps, reply["ts"]]):
        await bot.react(f"U0R{i}", "x", "C0SUPPORT", ts, process=False)

    assert await bot.runtime.inbox.drain() == 4

    cases = {c.output_ts: c for c in await bot.runtime.store.list_cases()}
    assert {ts: c.output_excerpt for ts, c in cases.items()} == {
        stamps[0]: "answer 0",
        stamps[1]: "answer 1",
        stamps[2]: "answer 2",
        reply["ts"]: "a reply",
    }
    assert "thread_ts=1700000000.000410" in str(cases[reply["ts"]].output_permalink)
    # One window for the three; the reply, not in channel history, looked for on its own.
    assert len(bot.slack.calls_to("conversations.history")) == 2
    assert len(bot.slack.calls_to("conversations.replies")) == 1


async def test_messages_a_crowded_window_leaves_out_are_read_one_by_one(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("handlers.slack.fetch.WINDOW_LIMIT", 2)
    for i in range(4):  # the middle two are never flagged, but fill the window
        bot.slack.add_message("C0SUPPORT", ai_message(f"1700000000.00042{i}", text=f"m{i}"))
    await bot.react("U0R1", "x", "C0SUPPORT", "1700000000.000420", process=False)
    await bot.react("U0R2", "x", "C0SUPPORT", "1700000000.000423", process=False)

    assert await bot.runtime.inbox.drain() == 2

    cases = {c.output_ts: c.output_excerpt for c in await bot.runtime.store.list_cases()}
    assert cases == {"1700000000.000420": "m0", "1700000000.000423": "m3"}
    assert len(bot.slack.calls_to("conversations.history")) == 2  # the window, then m0 alone


async def test_a_message_read_a_moment_ago_is_not_read_again(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000430"))
    await bot.react("U0R1", "x", "C0SUPPORT", "1700000000.000430")
    await bot.react("U0R2", "warning", "C0SUPPORT", "1700000000.000430")

    case = await only_case(bot)
    assert case.report_count == 2
    assert case.output_excerpt == AI_TEXT
    assert len(bot.slack.calls_to("conversations.history")) == 1


async def test_a_flag_that_cannot_be_filed_does_not_hold_up_the_others(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000500"))
    broken = {"event": {"type": "reaction_added"}}  # no event id: cannot be filed
    await bot.runtime.store.accept(
        "slack:event:broken", "slack.reaction_added", broken, bot.clock.now()
    )
    await bot.react("U0R1", "x", "C0SUPPORT", "1700000000.000500", process=False)

    with caplog.at_level(logging.WARNING):
        assert await bot.runtime.inbox.drain() == 1

    assert (await only_case(bot)).output_ts == "1700000000.000500"
    assert await bot.runtime.store.inbox_pending() == 1  # kept, and retried after its lease
    assert "one by one" in caplog.text


async def test_a_flag_is_committed_before_the_ack_and_survives_a_crash(
    bot: BotUnderTest,
) -> None:
    from bot.app.main import build_runtime

    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000150"))

    response = await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000150", process=False)

    assert response.status == 200
    assert await bot.runtime.store.inbox_pending() == 1  # stored before Slack got its ack
    await bot.runtime.close()  # the process dies before its inbox worker ran
    restarted = await build_runtime(bot.runtime.settings, bot.routing, clock=bot.clock)
    try:
        assert await restarted.inbox.drain() == 1
        assert await restarted.inbox.drain() == 0
        await restarted.dispatcher.drain()
        [case] = await restarted.store.list_cases()
        assert case.report_count == 1
        assert await restarted.store.inbox_pending() == 0
    finally:
        await restarted.close()
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1


async def test_unmapped_emoji_is_ignored(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000100"))

    response = await bot.react("U0REPORTER", "tada", "C0SUPPORT", "1700000000.000100")

    assert response.status == 200
    assert await bot.runtime.store.list_cases() == []
    assert bot.slack.calls_to("conversations.history") == []


async def test_ai_output_metadata_wins_and_links_the_trace(bot: BotUnderTest) -> None:
    metadata = {
        "event_type": "ai_output",
        "event_payload": {
            "system": "code-helper",
            "trace_id": "tr-42",
            "prompt_version": "v7",
            "model": "gpt-x",
        },
    }
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000200", metadata=metadata))

    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.000200")

    case = await only_case(bot)
    assert case.system_id == "code-helper"
    assert case.owner == "dave"
    assert (case.trace_id, case.prompt_version, case.model) == ("tr-42", "v7", "gpt-x")
    [report] = await reports_of(bot, case.id)
    assert report.trace_id == "tr-42"


@pytest.mark.parametrize(
    ("channel", "bot_id", "system"),
    [
        ("C0GENERAL", "B0CODE", "code-helper"),  # by poster
        ("C0CODE", None, "code-helper"),  # by channel
        ("C0GENERAL", "B0UNKNOWN", "support-assistant"),  # unknown → fallback_system
    ],
)
async def test_attribution_by_poster_then_channel_then_fallback(
    bot: BotUnderTest, channel: str, bot_id: str | None, system: str
) -> None:
    bot.slack.add_message(channel, ai_message("1700000000.000300", bot_id=bot_id))

    await bot.react("U0REPORTER", "warning", channel, "1700000000.000300")

    case = await only_case(bot)
    assert case.system_id == system
    assert case.category_id == "edge_case"


async def test_slack_retries_of_one_event_store_one_report(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000400"))

    first = await bot.react(
        "U0REPORTER", "x", "C0SUPPORT", "1700000000.000400", event_id="Ev0RETRY"
    )
    for attempt in (1, 2, 3):
        retried = await bot.react(
            "U0REPORTER", "x", "C0SUPPORT", "1700000000.000400", event_id="Ev0RETRY"
        )
        assert retried.status == 200, attempt

    assert first.status == 200
    case = await only_case(bot)
    assert len(await reports_of(bot, case.id)) == 1
    await bot.deliver()
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1


async def test_reflagging_updates_the_same_report(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000500"))
    await bot.react("U0REPORTER", "warning", "C0SUPPORT", "1700000000.000500")
    bot.clock.advance(timedelta(minutes=5))

    await bot.react("U0REPORTER", "rotating_light", "C0SUPPORT", "1700000000.000500")

    case = await only_case(bot)
    [report] = await reports_of(bot, case.id)
    assert report.category_id == "unsafe"
    assert report.severity is Severity.critical
    assert report.updated_at > report.created_at
    assert case.severity is Severity.critical
    assert case.report_count == 1
    await bot.deliver()
    texts = [c["text"] for c in bot.slack.calls_to("chat.postEphemeral")]
    assert len(texts) == 2
    assert texts[1].startswith(f"Updated your report on case #{case.id}")


async def test_two_people_flagging_one_message_share_one_case(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000600"))

    await bot.react("U0FIRST", "warning", "C0SUPPORT", "1700000000.000600")
    await bot.react("U0SECOND", "x", "C0SUPPORT", "1700000000.000600")

    case = await only_case(bot)
    reports = await reports_of(bot, case.id)
    assert {r.reporter_slack_id for r in reports} == {"U0FIRST", "U0SECOND"}
    assert case.report_count == 2
    # The case takes the highest severity of its reports.
    assert case.severity is Severity.high
    await bot.deliver()
    second = [c for c in bot.slack.calls_to("chat.postEphemeral") if c["user"] == "U0SECOND"]
    assert "1 other person flagged this too" in second[0]["text"]


async def test_output_excerpt_is_redacted(bot: BotUnderTest) -> None:
    leaked = "Sure! Jane's address is jane.doe@example.org and her card is 4111 1111 1111 1111."
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000700", text=leaked))

    await bot.react("U0REPORTER", "rotating_light", "C0SUPPORT", "1700000000.000700")

    case = await only_case(bot)
    assert case.output_excerpt is not None
    assert "jane.doe@example.org" not in case.output_excerpt
    assert "4111" not in case.output_excerpt
    assert "Jane's address is" in case.output_excerpt


async def test_report_is_kept_when_slack_cannot_return_the_message(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0CODE", ai_message("1700000000.000800", bot_id="B0CODE"))
    bot.slack.fail("conversations.history", *[Failure(500)] * 5)

    response = await bot.react("U0REPORTER", "x", "C0CODE", "1700000000.000800")

    assert response.status == 200
    case = await only_case(bot)
    assert case.system_id == "code-helper"  # still attributed, by channel
    assert case.output_excerpt is None


# --- request hygiene -----------------------------------------------------------------------


async def test_bad_signature_is_refused_and_nothing_stored(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000100"))
    body = json.dumps(
        {
            "type": "event_callback",
            "event_id": "Ev0FORGED",
            "event": {
                "type": "reaction_added",
                "user": "U0EVE",
                "reaction": "x",
                "item": {"type": "message", "channel": "C0SUPPORT", "ts": "1700000000.000100"},
            },
        }
    ).encode()

    forged = await bot.post_signed(body, "application/json", secret="not-the-secret")
    stale = await bot.post_signed(
        body, "application/json", timestamp=int(bot.clock.now().timestamp()) - 6 * 60
    )

    assert forged.status == 401
    assert stale.status == 401
    assert await bot.runtime.store.list_cases() == []


async def test_malformed_bodies_get_400(bot: BotUnderTest) -> None:
    not_json = await bot.post_signed(b"{not json", "application/json")
    bad_payload = await bot.post_signed(b"payload=%7Bnope", "application/x-www-form-urlencoded")
    nothing = await bot.post_signed(b"hello=world", "application/x-www-form-urlencoded")

    assert (not_json.status, bad_payload.status, nothing.status) == (400, 400, 400)
    assert "JSON" in (await not_json.json())["error"]


async def test_unknown_callback_id_is_ignored_with_a_log_line(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    payload = shortcut_payload("U0REPORTER", "C0SUPPORT", ai_message("1700000000.000100"))
    payload["callback_id"] = "something_else"

    with caplog.at_level(logging.INFO):
        response = await bot.interact(payload)

    assert response.status == 200
    assert "something_else" in caplog.text
    assert bot.slack.calls_to("views.open") == []
    assert await bot.runtime.store.list_cases() == []


async def test_ssl_check_is_answered(bot: BotUnderTest) -> None:
    response = await bot.post_signed(b"ssl_check=1&token=x", "application/x-www-form-urlencoded")

    assert response.status == 200


async def test_url_verification_challenge(bot: BotUnderTest) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c0ffee", "token": "x"}).encode()

    response = await bot.post_signed(body, "application/json")

    assert response.status == 200
    assert "c0ffee" in await response.text()


# --- message shortcut → modal -------------------------------------------------------------


async def open_shortcut_modal(
    bot: BotUnderTest, user: str, message: dict[str, Any]
) -> dict[str, Any]:
    response = await bot.interact(shortcut_payload(user, "C0SUPPORT", message))
    assert response.status == 200
    return bot.slack.calls_to("views.open")[-1]["view"]


async def test_shortcut_opens_a_modal_and_submitting_files_the_report(bot: BotUnderTest) -> None:
    message = ai_message("1700000000.000900", bot_id="B0CODE")

    view = await open_shortcut_modal(bot, "U0REPORTER", message)
    labels = [o["text"]["text"] for o in view["blocks"][1]["element"]["options"]]
    assert labels[0] == "Made-up or wrong facts"
    response = await bot.interact(
        view_submission(
            "U0REPORTER",
            view,
            {
                "category": "bad_format",
                "severity": "high",
                "wrong": "It answered in French",
                "expected": "English, like the question",
            },
        )
    )

    assert response.status == 200
    case = await only_case(bot)
    assert case.system_id == "code-helper"
    assert case.severity is Severity.high  # raised above bad_format's low
    [report] = await reports_of(bot, case.id)
    assert report.comment == "It answered in French"
    assert report.expected == "English, like the question"
    assert report.channel is Channel.slack_shortcut
    await bot.deliver()
    [confirmation] = bot.slack.calls_to("chat.postEphemeral")
    assert "Dave" in confirmation["text"]


async def test_modal_refuses_lowering_severity_and_a_missing_category(bot: BotUnderTest) -> None:
    view = await open_shortcut_modal(bot, "U0REPORTER", ai_message("1700000000.001000"))

    lowered = await bot.interact(
        view_submission("U0REPORTER", view, {"category": "unsafe", "severity": "low"})
    )
    missing = await bot.interact(view_submission("U0REPORTER", view, {"category": None}))

    lowered_body, missing_body = await lowered.json(), await missing.json()
    assert lowered_body["response_action"] == "errors"
    assert "severity" in lowered_body["errors"]
    assert "category" in missing_body["errors"]
    assert await bot.runtime.store.list_cases() == []


# --- slash command ------------------------------------------------------------------------


async def test_command_report_files_a_free_form_edge_case(bot: BotUnderTest) -> None:
    response = await bot.command("U0REPORTER", "report it can't parse dates like 31/02", "C0CODE")
    assert response.status == 200
    view = bot.slack.calls_to("views.open")[-1]["view"]
    wrong = next(b for b in view["blocks"] if b.get("block_id") == "wrong")
    assert wrong["element"]["initial_value"] == "it can't parse dates like 31/02"

    empty = await bot.interact(view_submission("U0REPORTER", view, {"category": "edge_case"}))
    assert "wrong" in (await empty.json())["errors"]
    await bot.interact(
        view_submission(
            "U0REPORTER", view, {"category": "edge_case", "wrong": "dates like 31/02 crash it"}
        )
    )
    await bot.interact(
        view_submission("U0REPORTER", view, {"category": "edge_case", "wrong": "another one"})
    )

    cases = await bot.runtime.store.list_cases()
    assert len(cases) == 2  # free-form edge cases don't share an output, so each is its own case
    assert {c.output_key.startswith("adhoc:") for c in cases} == {True}
    await bot.deliver()
    assert [c["channel"] for c in bot.slack.calls_to("chat.postEphemeral")] == ["C0CODE", "C0CODE"]


async def test_command_mine_lists_my_reports_and_help(bot: BotUnderTest) -> None:
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.001100"))
    await bot.react("U0REPORTER", "x", "C0SUPPORT", "1700000000.001100")
    await bot.react("U0OTHER", "warning", "C0SUPPORT", "1700000000.001100")

    mine = await (await bot.command("U0REPORTER", "mine")).json()
    nobody = await (await bot.command("U0NEWBIE", "mine")).json()
    helped = await (await bot.command("U0REPORTER", "help")).json()
    unknown = await (await bot.command("U0REPORTER", "frobnicate")).json()

    case = await only_case(bot)
    assert f"Case #{case.id} · New · Made-up or wrong facts · Support Assistant" in mine["text"]
    assert "haven't reported anything" in nobody["text"]
    assert "/loopkeeper report" in helped["text"]
    assert "`frobnicate`" in unknown["text"]


# --- feedback buttons of an assistant in this app ----------------------------------------


def feedback_payload(user: str, value: str) -> dict[str, Any]:
    message = ai_message(
        "1700000000.001200",
        bot_id="B0LOOPKEEPER",
        metadata={
            "event_type": "ai_output",
            "event_payload": {"system": "code-helper", "trace_id": "tr-9"},
        },
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": AI_TEXT}},
            {
                "type": "context_actions",
                "block_id": "fb",
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
            },
        ],
    )
    return {
        "type": "block_actions",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"},
        "api_app_id": "A0LOOPKEEPER",
        "trigger_id": "trigger.fb",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": "C0GENERAL"},
        "channel": {"id": "C0GENERAL", "name": "general"},
        "message": message,
        "actions": [
            {
                "type": "feedback_buttons",
                "action_id": "feedback",
                "block_id": "fb",
                "value": value,
                "action_ts": "1700000001.000001",
            }
        ],
    }


async def test_negative_feedback_button_files_a_report_positive_does_not(bot: BotUnderTest) -> None:
    positive = await bot.interact(feedback_payload("U0REPORTER", "good"))
    assert positive.status == 200
    assert await bot.runtime.store.list_cases() == []

    negative = await bot.interact(feedback_payload("U0REPORTER", "bad"))

    assert negative.status == 200
    case = await only_case(bot)
    assert (case.system_id, case.category_id, case.trace_id) == ("code-helper", "other", "tr-9")
    [report] = await reports_of(bot, case.id)
    assert report.channel is Channel.slack_feedback_button


# --- health --------------------------------------------------------------------------------


async def test_health_and_readiness(bot: BotUnderTest) -> None:
    health = await bot.http.get(f"{bot.base_url}/healthz")
    ready = await bot.http.get(f"{bot.base_url}/readyz")
    metrics = await bot.http.get(f"{bot.base_url}/metrics")

    assert health.status == 200
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"database": "ok", "migrations": "ok"}
    assert "loopkeeper_http_requests_total" in await metrics.text()
