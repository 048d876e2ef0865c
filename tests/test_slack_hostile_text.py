"""Untrusted text is inert in Slack: what reporters, owners, AI outputs, ingest clients and the
routing file say reaches Slack as words, never as pings, links or broken formatting.

The bot is driven through its real routes; what the fake Slack received is what people would
see, and is checked with slack_sdk's Block Kit models and Slack's own limits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.core.models import Case
from bot.core.mrkdwn import ZWSP
from digests.week import IsoWeek
from handlers.slack import card
from tests.harness import BotUnderTest, button_press, running_bot, shortcut_payload, view_submission
from tests.support.fake_slack import FakeSlack
from tests.support.slack_payloads import all_problems, mrkdwn_texts, sent, write_routing

JAPANESE = ("日本語の長い回答です。" * 1000)[:10_000]
HOSTILE = (
    "<!channel> <!here|here> <@U123> <#C123> <!subteam^S123|@team> "
    "<https://evil.example|the refund page> *bold* _x_ ~gone~ `code` &amp; a < b > c & d "
    "🔥👍🏽 \u202eevil\u202c"
)
LONG_HOSTILE = HOSTILE + "\n" + JAPANESE
KNOWN_USERS = {"U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0REPORTER", "U0OTHER", "U0INGEST"}
AI_TS = "1700000000.000100"


def hostile_routing(data: dict[str, Any]) -> None:
    """Every name and label an operator can write, hostile too."""
    data["people"]["alice"]["name"] = "<@U123> Alice *owner* & _co_"
    data["people"]["bob"]["name"] = "<!channel> Bob"
    data["categories"][0]["label"] = (
        "<!channel> *Made-up* or _wrong_ facts & <https://evil.example|refunds> " + "ö" * 80
    )
    data["systems"][0]["name"] = "<!here> Support *Assistant* & co " + "名" * 300


def texts_to(bot: BotUnderTest, channel: str, *, thread: bool | None = None) -> list[str]:
    calls = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == channel]
    if thread is not None:
        calls = [c for c in calls if bool(c.get("thread_ts")) is thread]
    return [c["text"] for c in calls]


async def press(bot: BotUnderTest, user: str, action: str, case_id: int, channel: str) -> None:
    response = await bot.interact(button_press(user, action, str(case_id), channel=channel))
    assert response.status == 200
    await bot.deliver()


async def submit(
    bot: BotUnderTest, user: str, view: dict[str, Any], values: dict[str, str | None]
) -> None:
    response = await bot.interact(view_submission(user, view, values))
    assert response.status == 200
    assert "errors" not in (await response.text())
    await bot.deliver()


async def triage_modal(
    bot: BotUnderTest, user: str, action: str, case_id: int, values: dict[str, str | None]
) -> None:
    await press(bot, user, action, case_id, "C0TRIAGE")
    view = bot.slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == action + card.MODAL_SUFFIX
    await submit(bot, user, view, values)


async def command(bot: BotUnderTest, user: str, text: str) -> dict[str, Any]:
    response = await bot.command(user, text)
    assert response.status == 200
    body = await response.text()
    return json.loads(body) if body else {}


async def case_of(bot: BotUnderTest, **match: object) -> Case:
    cases = await bot.runtime.store.list_cases()
    [found] = [c for c in cases if all(getattr(c, k) == v for k, v in match.items())]
    return found


async def test_every_slack_surface_keeps_hostile_text_inert_and_within_limits(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    routing_file = write_routing(tmp_path / "routing.yaml", hostile_routing)
    slack.users["bob@example.com"] = "U0BOB"
    async with running_bot(database_url, slack, routing_file) as bot:
        answers = await _walk_every_surface(bot)
        items = sent(slack, answers)

    # The report modal's private_metadata (the flagged message today, a reference once the
    # intake slice of issue #10 lands) is that slice's to fit, and its own test's to check.
    report_modals = {
        i.where for i in items if i.payload.get("callback_id") == "report_ai_output_modal"
    }
    problems = [
        p
        for p in all_problems(items, KNOWN_USERS)
        if not (p.split(":")[0] in report_modals and "private_metadata" in p)
    ]
    assert problems == []
    everything = [t for item in items for t in mrkdwn_texts(item.payload, item.kind)]
    for marker in ("*bold*", "_x_", "~gone~", "`code`"):
        assert not any(marker in text for text in everything), marker

    # The hostile words are shown (escaped), not dropped, on every kind of surface.
    shown = "&lt;!channel&gt;"
    cards = [
        c.args
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.update")
        and c.args.get("channel") == "C0TRIAGE"
        and c.args.get("blocks")
    ]
    card_json = [json.dumps(c["blocks"], ensure_ascii=False) for c in cards]
    assert any(
        shown in c and "&lt;https://evil.example|the refund page&gt;" in c for c in card_json
    )
    statuses = {c["text"].rsplit(" · ", 1)[-1] for c in cards}
    assert statuses >= {
        "new",
        "acknowledged",
        "waiting for information",
        "resolved",
        "closed as won't fix",
        "closed as a duplicate",
    }
    thread = texts_to(bot, "C0TRIAGE", thread=True)
    assert sum(shown in t for t in thread) >= 3  # question, answer, resolution note
    reporter_dms = texts_to(bot, "U0REPORTER")
    assert any("needs more information" in t and shown in t for t in reporter_dms)
    assert any("was resolved" in t and shown in t for t in reporter_dms)
    assert any("&lt;@U123&gt; Alice" in t for t in thread)  # owners' names from routing.yaml
    assert any("routed to you" in t for t in texts_to(bot, "U0ALICE"))  # the owner's DM
    assert any("Reassigned to &lt;!channel&gt; Bob" in t for t in thread)
    assert any("&lt;@U123&gt; Alice" in t for t in texts_to(bot, "U0BOB"))  # assigned to bob
    views = [v["view"]["callback_id"] for v in slack.calls_to("views.open")]
    assert views.count("report_ai_output_modal") == 2
    for action in (card.RESOLVE, card.REASSIGN, card.NEEDS_INFO, card.WONT_FIX, card.DUPLICATE):
        assert action + card.MODAL_SUFFIX in views
    assert card.ANSWER + card.MODAL_SUFFIX in views
    [digest] = [c for c in slack.calls_to("chat.postMessage") if c["channel"] == "C0CONDUCT"]
    assert "&lt;!here&gt; Support" in json.dumps(digest["blocks"], ensure_ascii=False)
    assert [a for a in answers if shown in a.get("text", "")]  # mine, cases, help


async def _walk_every_surface(bot: BotUnderTest) -> list[dict[str, Any]]:
    """Flag, report, triage and digest with hostile text in every field a person can fill.
    Returns the slash commands' answers (the rest is in the fake Slack's calls)."""
    message = {
        "type": "message",
        "ts": AI_TS,
        "bot_id": "B0SUPPORT",
        "text": LONG_HOSTILE,
        "metadata": {
            "event_type": "ai_output",
            "event_payload": {"trace_id": HOSTILE, "prompt_version": "*v7*", "model": "<!here>"},
        },
    }
    bot.slack.add_message("C0SUPPORT", message)
    assert (await bot.react("U0REPORTER", "x", "C0SUPPORT", AI_TS)).status == 200
    await bot.deliver()
    flagged = await case_of(bot, output_ts=AI_TS)
    assert flagged.id is not None

    # The shortcut on the same message: its modal quotes the message; the report joins.
    response = await bot.interact(shortcut_payload("U0OTHER", "C0SUPPORT", message))
    assert response.status == 200
    view = bot.slack.calls_to("views.open")[-1]["view"]
    await submit(
        bot,
        "U0OTHER",
        view,
        {"category": "hallucination", "wrong": LONG_HOSTILE, "expected": LONG_HOSTILE},
    )

    # An AI app forwards its own thumbs-down with hostile fields.
    report = {
        "system": "support-assistant",
        "category": "unsafe",
        "comment": LONG_HOSTILE[:10_000],  # the API's own cap
        "expected": HOSTILE,
        "trace_id": "tr-<!channel>|*x*",
        "prompt_version": "<@U123>",
        "model": "_m_",
        "message_link": "https://evil.example/x|<!channel>",
        "reporter": {"slack_id": "U9>|<!channel>", "name": HOSTILE},
    }
    response = await bot.ingest(report)
    if response.status >= 400:  # a stricter intake may refuse the hostile id and link
        report |= {"reporter": {"slack_id": "U0INGEST"}, "message_link": None}
        response = await bot.ingest(report)
    assert response.status == 201
    await bot.deliver()
    forwarded = await case_of(bot, category_id="unsafe")

    # An edge case with `/loopkeeper report`: the modal starts with the hostile words.
    await command(bot, "U0OTHER", "report " + HOSTILE)
    view = bot.slack.calls_to("views.open")[-1]["view"]
    await submit(bot, "U0OTHER", view, {"category": "other", "wrong": LONG_HOSTILE})
    edge = await case_of(bot, category_id="other")

    answers = [
        await command(bot, "U0REPORTER", "mine"),
        await command(bot, "U0ALICE", "cases"),
        await command(bot, "U0REPORTER", "help"),
        await command(bot, "U0REPORTER", "<!channel>"),
    ]

    await bot.runtime.timers.fire_due()  # the owner's DM
    await bot.deliver()

    case_id = flagged.id
    await press(bot, "U0ALICE", card.ACK, case_id, "C0TRIAGE")
    await triage_modal(bot, "U0ALICE", card.NEEDS_INFO, case_id, {"question": LONG_HOSTILE})
    await press(bot, "U0REPORTER", card.ANSWER, case_id, "D0REPORTER")
    view = bot.slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == card.ANSWER + card.MODAL_SUFFIX
    await submit(bot, "U0REPORTER", view, {"answer": LONG_HOSTILE})
    await triage_modal(bot, "U0ALICE", card.REASSIGN, case_id, {"role": "governance"})
    await triage_modal(
        bot, "U0ALICE", card.RESOLVE, case_id, {"reason": "prompt_fixed", "note": LONG_HOSTILE}
    )
    assert edge.id is not None and forwarded.id is not None
    await triage_modal(bot, "U0CAROL", card.DUPLICATE, edge.id, {"original": str(forwarded.id)})
    await triage_modal(bot, "U0CAROL", card.WONT_FIX, forwarded.id, {"reason": LONG_HOSTILE})

    digest = bot.routing.digests[0]
    week = IsoWeek.containing(bot.clock.now(), digest.schedule.timezone)
    assert await bot.runtime.digests.post_now(digest, week)
    await bot.deliver()
    return answers


# --- each bug of issue #10, on its own ---------------------------------------------------------


async def flag_with_comment(bot: BotUnderTest, comment: str) -> dict[str, Any]:
    """A reporter flags an AI message with the shortcut and `comment`; returns the card."""
    message = {"type": "message", "ts": AI_TS, "bot_id": "B0SUPPORT", "text": "Refunds: 90 days."}
    bot.slack.add_message("C0SUPPORT", message)
    await bot.interact(shortcut_payload("U0REPORTER", "C0SUPPORT", message))
    view = bot.slack.calls_to("views.open")[-1]["view"]
    await submit(bot, "U0REPORTER", view, {"category": "hallucination", "wrong": comment})
    [posted] = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "C0TRIAGE"]
    return posted


def card_mrkdwn(posted: dict[str, Any]) -> str:
    return "\n".join(mrkdwn_texts(posted, "message"))


async def test_a_channel_ping_in_a_comment_does_not_ping_the_triage_channel(
    bot: BotUnderTest,
) -> None:
    posted = card_mrkdwn(await flag_with_comment(bot, "<!channel> <!here> look at this <@U123>"))

    assert "<!channel>" not in posted and "<!here>" not in posted and "<@U123>" not in posted
    assert "&lt;!channel&gt; &lt;!here&gt; look at this &lt;@U123&gt;" in posted


async def test_a_disguised_link_in_a_comment_is_not_a_link(bot: BotUnderTest) -> None:
    posted = card_mrkdwn(
        await flag_with_comment(bot, "see <https://evil.example/phish|the refund page>")
    )

    assert "<https://evil.example" not in posted
    assert "see &lt;https://evil.example/phish|the refund page&gt;" in posted


async def test_formatting_characters_in_a_comment_stay_literal(bot: BotUnderTest) -> None:
    posted = await flag_with_comment(bot, "*all* refunds_are _fine_ & 1 < 2 > 0")
    [comment] = [
        e["text"]
        for b in posted["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
        if "<@U0REPORTER>" in e["text"]
    ]

    guarded = f"{ZWSP}*{ZWSP}all{ZWSP}*{ZWSP} refunds_are {ZWSP}_{ZWSP}fine{ZWSP}_{ZWSP}"
    assert comment == f"<@U0REPORTER>: {guarded} &amp; 1 &lt; 2 &gt; 0"


async def test_thread_lines_and_dms_escape_what_owners_and_reporters_wrote(
    bot: BotUnderTest,
) -> None:
    await flag_with_comment(bot, "wrong")
    case = await case_of(bot, output_ts=AI_TS)
    assert case.id is not None

    await triage_modal(
        bot, "U0ALICE", card.RESOLVE, case.id, {"reason": "other", "note": "<!channel> fixed"}
    )

    [line] = texts_to(bot, "C0TRIAGE", thread=True)
    assert "<!channel>" not in line and line.endswith(": &lt;!channel&gt; fixed")
    [dm] = [t for t in texts_to(bot, "U0REPORTER") if "was resolved" in t]
    assert "<!channel>" not in dm and "&lt;!channel&gt; fixed" in dm


async def test_an_ingest_client_cannot_forge_a_mention_or_a_link(bot: BotUnderTest) -> None:
    report = {
        "system": "support-assistant",
        "category": "hallucination",
        "comment": "wrong",
        "message_link": "https://evil.example/x|<!channel>",
        "reporter": {"slack_id": "U9>|<!channel>"},
    }
    response = await bot.ingest(report)
    if response.status >= 400:
        return  # refused at intake: nothing could reach a card
    await bot.deliver()

    [posted] = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "C0TRIAGE"]
    text = card_mrkdwn(posted)
    assert "<!channel>" not in text and "<https://evil.example" not in text
    assert "U9&gt;|&lt;!channel" in text
