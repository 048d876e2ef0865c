"""What people type is shown as typed in Teams: reporters' comments, the flagged AI output, an
owner's question and note, a reporter's answer and an AI app's trace id reach the case card,
the report form, the answer card, thread lines and 1:1 messages with no markup of their own
(no link, heading, bold, list, HTML, mention), and no link but the ones the bot builds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.card_markdown import plain
from handlers.teams.card_budget import fit, wire_size
from handlers.teams.digest import digest_activity
from tests import teams_harness
from tests.inert_markup import (
    EMOJI,
    EVIL,
    HOSTILE,
    HOSTILE_TEXT,
    JAPANESE,
    assert_inert,
    markdown_texts,
    shown_text,
)
from tests.support.fake_connector import card_of
from tests.teams_harness import CHAT, HELPERS, TRIAGE, TeamsBotUnderTest, ai_message
from tests.test_digest_render import big_digest
from tests.test_teams_triage import ALICE, DAN, know_people, personal_messages, thread

connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

TRACE = "tr-**1** [x](https://evil.example) <at>all</at>"


def open_urls(node: Any) -> list[str]:
    """Where every Action.OpenUrl (and selectAction) of a card leads."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.OpenUrl":
            found.append(str(node.get("url")))
        for child in node.values():
            found += open_urls(child)
    elif isinstance(node, list):
        for child in node:
            found += open_urls(child)
    return found


def hostile_message() -> dict[str, Any]:
    message = ai_message(
        "Refunds: " + HOSTILE_TEXT.replace("<", "&lt;"),
        message_id="1600000000077",
        meta={"trace_id": TRACE, "model": "gpt **x**"},
    )
    message["linkToMessage"] = "javascript:alert(1)"
    return message


async def test_the_report_form_shows_the_flagged_output_as_text(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, body = await teams_bot.fetch_task(DAN, hostile_message(), CHAT)
    assert status == 200
    texts = markdown_texts(body)
    assert texts
    for text in texts:
        assert_inert(text)
    assert "[the refund page](https://evil.example)" in shown_text("\n".join(texts))
    # Sent back with an error (no category): what they typed comes back as plain input values.
    status, body = await teams_bot.submit_report(
        DAN, hostile_message(), {"wrong": HOSTILE_TEXT + JAPANESE, "expected": EMOJI * 400}
    )
    assert status == 200
    for text in markdown_texts(body):
        assert_inert(text)
    assert len(json.dumps(body)) < 28_000


async def test_a_hostile_report_is_inert_on_the_card_the_thread_and_in_messages(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    know_people(bot)
    await bot.install(TRIAGE)
    await bot.install(HELPERS)
    status, _ = await bot.submit_report(
        DAN,
        hostile_message(),
        {
            "category": "hallucination",
            "wrong": HOSTILE_TEXT + "\n" + JAPANESE + EMOJI,
            "expected": HOSTILE_TEXT,
        },
    )
    assert status == 200
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    case_id = case.id or 0

    question = "Which page? " + HOSTILE_TEXT
    status, body = await bot.execute(ALICE, "needs_info", case_id, {"question": question})
    assert status == 200
    await bot.deliver()
    status, answered = await bot.execute(
        DAN, "answer", case_id, {"answer_text": "This one: " + HOSTILE_TEXT}, conversation="a:1:x"
    )
    assert status == 200
    _, resolved = await bot.execute(
        ALICE,
        "resolve",
        case_id,
        {"resolve_reason": "prompt_fixed", "resolve_note": "Fixed. " + HOSTILE_TEXT},
    )
    await bot.deliver()

    cards = [card_of(s.activity) for s in bot.connector.cards()]
    assert len(cards) >= 4  # posted, updated, the answer card, …
    for card in [*cards, answered["value"], resolved["value"]]:
        for text in markdown_texts(card):
            # the one link the bot may put in a card: its own case thread
            assert_inert(text, allowed=("link_open → https://teams.microsoft.com/",))
        # No button opens the link the flagged message came with: it was not http(s).
        assert all(url.startswith("https://") for url in open_urls(card)), open_urls(card)
    card_words = shown_text("\n".join(markdown_texts(cards[-1])))
    for line in HOSTILE[:4]:
        assert line in card_words  # shown as typed, not swallowed
    assert TRACE in card_words and "日本語の長い説明です。" in card_words

    lines = [r.activity for r in await thread(bot, case)]
    assert any("Which page?" in r["text"] for r in lines)
    assert any("This one:" in r["text"] for r in lines)
    for line in lines:
        for text in markdown_texts(line):
            assert_inert(text)
        assert (
            f"[the refund page]({EVIL})" in shown_text(line["text"])
            or "Acknowledged" in (line["text"])
        )

    messages = personal_messages(bot, DAN)
    texts = [t for m in messages for t in markdown_texts(m)]
    assert any(TRACE in shown_text(t) or TRACE in t for t in texts)  # the confirmation
    assert any("Fixed." in t for t in texts)  # how it ended
    for text in texts:
        # the bot's own: bold names in the confirmation, the trace id as a code span
        assert_inert(text, allowed=("strong_open", "code_inline"))


def test_the_digest_card_shows_hostile_names_as_text() -> None:
    digest = big_digest(systems=3, system_name=HOSTILE_TEXT).model_copy(
        update={"headline": "Lots: " + HOSTILE[0]}
    )
    activity = digest_activity(digest, note="Posted late. " + HOSTILE[3])
    texts = markdown_texts(activity)
    assert texts
    for text in texts:
        assert_inert(text)
    assert all(not url.startswith(EVIL) for url in open_urls(activity))
    assert len(json.dumps(activity)) < 25_000


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab &<>*_`~[]()|#-+=1.\\\n") + ["😀", "日", "é"])),
    budget=st.integers(min_value=0, max_value=400),
)
def test_shortened_text_is_never_cut_inside_an_escape(text: str, budget: int) -> None:
    """Whatever is cut to fit a budget still reads as the start of what was typed."""
    fitted = fit(text, budget)
    assert wire_size(fitted) - 2 <= budget
    assert_inert(fitted)
    shown = " ".join(shown_text(fitted).split())
    typed = " ".join(plain(text).split())
    if fitted.endswith("…") and not typed.endswith("…"):
        assert shown.endswith("…") and typed.startswith(shown[:-1].rstrip())
    elif fitted:
        assert shown == typed
