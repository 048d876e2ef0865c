"""Teams refuses a message (card included) over 28 KB, and a card it refused can no longer be
updated: every Adaptive Card the bot sends stays under that size however many people comment
and however long their comments are. Sizes are measured on what the fake Bot Connector got."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from bot.config.loading import parse_routing
from bot.core.models import Case, Channel, Report, Role, Severity
from handlers.teams.card_budget import wire_size as teams_wire_size
from handlers.teams.cards import card_message
from handlers.teams.case_card import case_card, case_summary
from tests import teams_harness
from tests.harness import ROUTING_FILE
from tests.support.fake_connector import Sent, card_of
from tests.teams_harness import (
    CHAT,
    HELPERS,
    TRIAGE,
    TeamsBotUnderTest,
    account,
    ai_message,
    card_texts,
)

connector = teams_harness.connector
teams_bot = teams_harness.teams_bot

TEAMS_LIMIT = 28_000  # "about 28 KB": a little under 28 KiB, to be safe
ALICE = account("alice")


def wire_size(activity: dict[str, Any]) -> int:
    """Bytes of the activity as botbuilder puts it on the wire (json.dumps, ASCII escapes),
    which is never smaller than its UTF-8 JSON."""
    return max(
        len(json.dumps(activity).encode()),
        len(json.dumps(activity, ensure_ascii=False).encode()),
    )


def card_sends(bot: TeamsBotUnderTest) -> list[Sent]:
    return [s for s in bot.connector.sent if card_of(s.activity) is not None]


def long_comment(who: int, size: int = 2_000) -> str:
    # French, as many reporters write: JSON on the wire escapes each accented letter to six.
    line = f"Lecteur {who} : réponse erronée, délai de remboursement élevé, vérifié à l'accueil. "
    return (line * (size // len(line) + 1))[:size]


async def comment_on_one_message(bot: TeamsBotUnderTest, people: int, text_size: int) -> int:
    """`people` Teams users flag the same AI message, each with long 'what was wrong' and
    'what it should have said' texts; returns the case number."""
    await bot.install(TRIAGE)
    await bot.install(HELPERS)
    message = ai_message("The refund window is 90 days.", message_id="1600000000042")
    for who in range(people):
        sender = {
            "id": f"29:1person{who}",
            "aadObjectId": f"aad-person{who}",
            "name": f"Person {who} " + "Wolfeschlegelsteinhausenbergerdorff " * 3,
        }
        status, _ = await bot.submit_report(
            sender,
            message,
            {
                "category": "hallucination",
                "wrong": long_comment(who, text_size),
                "expected": long_comment(who, text_size),
            },
        )
        assert status == 200
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    assert case.report_count == people
    return case.id or 0


@pytest.mark.parametrize("people", [5, 20, 200])
async def test_the_case_card_stays_under_28_kb_however_many_comment(
    teams_bot: TeamsBotUnderTest, people: int
) -> None:
    bot = teams_bot
    case_id = await comment_on_one_message(bot, people, 2_000)
    sent = [s for s in card_sends(bot) if s.conversation_id == TRIAGE]
    assert sent, "the case card was posted and updated"
    sizes = [wire_size(s.activity) for s in sent]
    assert max(sizes) < TEAMS_LIMIT, sizes
    # The refresh an owner gets back when acting on the card is bounded the same way.
    bot.connector.add_member(ALICE["id"], "Alice", "alice@example.com", "aad-alice")
    status, body = await bot.execute(ALICE, "acknowledge", case_id)
    assert status == 200
    assert wire_size(body) < TEAMS_LIMIT
    text = card_texts(card_of(sent[-1].activity) or {})
    # The newest comment is on the card; the ones that did not fit are counted, not lost.
    assert f"Lecteur {people - 1} :" in text
    if people > 5:
        assert "more comments" in text


async def test_a_huge_comment_in_japanese_and_emoji_is_shortened_not_refused(
    teams_bot: TeamsBotUnderTest,
) -> None:
    bot = teams_bot
    await bot.install(TRIAGE)
    huge = ("日本語の長い説明です。" * 1000)[:10_000] + "😀" * 3_000
    status, _ = await bot.submit_report(
        ALICE,
        ai_message("回答" * 5_000, message_id="1600000000043"),
        {"category": "hallucination", "wrong": huge, "expected": huge},
    )
    assert status == 200
    await bot.deliver()
    sent = [s for s in card_sends(bot) if s.conversation_id == TRIAGE]
    assert sent
    assert max(wire_size(s.activity) for s in sent) < TEAMS_LIMIT
    assert "日本語の長い説明です。" in card_texts(card_of(sent[-1].activity) or {})
    assert "…" in card_texts(card_of(sent[-1].activity) or {})


async def test_the_report_form_on_a_long_answer_stays_under_28_kb(
    teams_bot: TeamsBotUnderTest,
) -> None:
    status, body = await teams_bot.fetch_task(
        ALICE, ai_message("😀 " * 20_000, message_id="1600000000044"), CHAT
    )
    assert status == 200
    assert wire_size(body) < TEAMS_LIMIT


def test_a_card_fits_with_hundreds_of_long_named_people_and_comments() -> None:
    """Renderer level: routing.yaml with 300 people named in 60 emoji each, and 200 reports
    whose comments are emoji too (twelve bytes each on the wire)."""
    data = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    for n in range(300):
        data["people"][f"p{n}"] = {"name": f"{n} " + "👩‍🔬" * 60, "email": f"p{n}@example.com"}
    routing = parse_routing(yaml.safe_dump(data, allow_unicode=True), "routing.yaml")
    now = datetime(2026, 11, 20, tzinfo=UTC)
    case = Case(
        id=7,
        output_key="teams:x",
        system_id="support-assistant",
        category_id="hallucination",
        severity=Severity.high,
        owner="p1",
        owner_role=Role.validation,
        output_excerpt="😀" * 40_000,
        trace_id="🧪" * 255,
        report_count=200,
        created_at=now,
        updated_at=now,
        opened_at=now,
    )
    reports = [
        Report(
            id=n,
            case_id=7,
            reporter_id=f"teams:{n}",
            channel=Channel.teams,
            category_id="hallucination",
            severity=Severity.high,
            comment=f"comment {n} " + "😡" * 40_000,
            expected="🙂" * 40_000,
            created_at=now,
            updated_at=now,
        )
        for n in range(200)
    ]
    card = case_card(case, reports, routing, thread="https://teams.microsoft.com/l/message/x/1")
    activity = card_message(card, case_summary(case, routing))
    assert wire_size(activity) == teams_wire_size(activity) < TEAMS_LIMIT - 3_000
    text = card_texts(card)
    assert "comment 199" in text and "more comments" in text
    assert "Reassign…" in json.dumps(card, ensure_ascii=False)  # by role, at least
