"""Slack's limits are budgets: a big routing file, long names and long texts still give modals,
cards and messages Slack accepts, shortened without cutting inside markup."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.config.loading import load_routing
from bot.core.models import Case, Channel, Report, Severity
from bot.core.mrkdwn import ELLIPSIS, ZWSP, escape, link, mention, shorten
from digests.week import IsoWeek
from handlers.slack import card
from handlers.slack.budget import plain
from handlers.slack.card import card_blocks
from tests.harness import (
    ROUTING_FILE,
    BotUnderTest,
    button_press,
    running_bot,
    shortcut_payload,
    view_submission,
)
from tests.support.fake_slack import FakeSlack
from tests.support.slack_payloads import all_problems, markup_problems, sent, write_routing

KNOWN_USERS = {"U0ALICE", "U0CAROL", "U0DAVE", "U0REPORTER"}
LONG = "Ω" * 200
NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


def big_routing(data: dict[str, Any]) -> None:
    """120 categories with labels over Slack's 75-character option limit, a long system name,
    long people's names, and a reaction for every category."""
    extra = [
        {
            "id": f"cat{i:03d}",
            "label": f"Category {i:03d}: {LONG}",
            "severity": "medium",
            "route_to": "validation",
        }
        for i in range(len(data["categories"]), 120)
    ]
    data["categories"] += extra
    data["categories"][0]["label"] = "Made-up or wrong facts " + LONG
    data["reactions"] |= {f"e{c['id']}": c["id"] for c in extra}
    data["systems"][0]["name"] = "Support Assistant " + LONG
    data["people"]["alice"]["name"] = "Alice " + LONG


def options_of(view: dict[str, Any], block_id: str) -> list[dict[str, Any]]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    element = block["element"]
    groups = element.get("option_groups")
    return [o for g in groups for o in g["options"]] if groups else element["options"]


async def test_a_big_routing_file_gives_modals_cards_and_digests_slack_accepts(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    routing_file = write_routing(tmp_path / "routing.yaml", big_routing)
    async with running_bot(database_url, slack, routing_file) as bot:
        answers = await _every_surface(bot)
        items = sent(slack, answers)

    assert all_problems(items, KNOWN_USERS) == []
    [report_modal] = [v["view"] for v in slack.calls_to("views.open")][:1]
    offered = [o["value"] for o in options_of(report_modal, "category")]
    assert offered == [c.id for c in load_routing(routing_file).categories]  # all 120, in order
    cards = [c for c in slack.calls_to("chat.update") if c["channel"] == "C0TRIAGE"]
    header = cards[-1]["blocks"][0]["text"]["text"]
    assert header.startswith("🟡 Case #1: Category 119: ΩΩ") and header.endswith(ELLIPSIS)


async def _every_surface(bot: BotUnderTest) -> list[dict[str, Any]]:
    message = {"type": "message", "ts": "1700000000.000100", "bot_id": "B0SUPPORT", "text": "AI"}
    bot.slack.add_message("C0SUPPORT", message)
    await bot.interact(shortcut_payload("U0REPORTER", "C0SUPPORT", message))
    view = bot.slack.calls_to("views.open")[-1]["view"]
    # The last category, past Slack's 100 options per menu.
    submitted = await bot.interact(
        view_submission("U0REPORTER", view, {"category": "cat119", "wrong": "Ω" * 2000})
    )
    assert submitted.status == 200 and "errors" not in await submitted.text()
    await bot.deliver()
    [case] = await bot.runtime.store.list_cases()
    assert case.id is not None and case.category_id == "cat119"
    await bot.runtime.timers.fire_due()
    await bot.deliver()
    for action in (card.RESOLVE, card.REASSIGN, card.NEEDS_INFO, card.WONT_FIX, card.DUPLICATE):
        response = await bot.interact(button_press("U0ALICE", action, str(case.id)))
        assert response.status == 200
    await bot.interact(button_press("U0ALICE", card.ACK, str(case.id)))
    await bot.deliver()
    answers = []
    for words in ("help", "mine", "cases"):
        response = await bot.command("U0ALICE" if words == "cases" else "U0REPORTER", words)
        answers.append(json.loads(await response.text()))
    digest = bot.routing.digests[0]
    week = IsoWeek.containing(bot.clock.now(), digest.schedule.timezone)
    assert await bot.runtime.digests.post_now(digest, week)
    await bot.deliver()
    return answers


# --- the budgets, one renderer at a time ---------------------------------------------------


def test_a_cut_never_splits_an_entity_or_a_guarded_marker() -> None:
    for source in ("&" * 5000, "<>" * 3000, "*_" * 3000, "a&b<c>d*e " * 1000):
        whole = escape(source)
        for limit in range(2990, 3001):
            cut = escape(source, limit)
            assert len(cut) <= limit and cut.endswith(ELLIPSIS)
            body = cut.removesuffix(ELLIPSIS)
            assert whole.startswith(body)
            assert re.search("&[a-z]{0,3}$", body) is None  # no half entity
            assert body.count(ZWSP) % 2 == 0  # every guarded marker whole


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_any_escaped_text_is_inert_and_fits_its_budget(text: str, limit: int) -> None:
    escaped = escape(text, limit)
    assert len(escaped) <= limit
    assert markup_problems(escaped, set()) == []
    assert "&" not in re.sub("&(amp|lt|gt);", "", escaped)


@given(st.text(), st.text(min_size=1), st.text(), st.integers(min_value=1, max_value=400))
def test_any_cut_of_composed_markup_keeps_the_bots_link_whole(
    before: str, label: str, after: str, limit: int
) -> None:
    linked = link("https://acme.slack.com/archives/C0TRIAGE/p1700000000000100", label)
    cut = shorten(escape(before) + " " + linked + " " + escape(after), limit)
    assert len(cut) <= limit
    assert markup_problems(cut, set()) == []
    assert re.search("&[a-z]{0,3}$", cut.removesuffix(ELLIPSIS)) is None


def test_shortening_markup_never_cuts_inside_the_bots_link_or_an_entity() -> None:
    linked = link("https://acme.slack.com/archives/C0TRIAGE/p1700000000000100", "Open case #1")
    for limit in range(2950, 3001):
        cut = shorten("a" * 2960 + " &amp; " + linked + " tail", limit)
        assert len(cut) <= limit
        assert cut.count("<") == cut.count(">")
        assert not cut.removesuffix(ELLIPSIS).rstrip().endswith(("&", "&a", "&am", "&amp"))


def test_only_plain_web_addresses_become_links_and_only_user_ids_mentions() -> None:
    assert link("https://evil.example/x|<!channel>", "Open") == "Open"
    assert link("javascript:alert(1)", "Open") == "Open"
    assert (
        link("https://a.example/?x=1&y=2", "A & B") == "<https://a.example/?x=1&amp;y=2|A &amp; B>"
    )
    assert mention("U9>|<!channel>") == "U9&gt;|&lt;!channel&gt;"
    assert mention("U0ALICE") == "<@U0ALICE>"


def test_markers_inside_words_stay_copyable_and_those_at_boundaries_are_guarded() -> None:
    assert escape("trace tr_123 in snake_case") == "trace tr_123 in snake_case"
    assert escape("*x*") == f"{ZWSP}*{ZWSP}x{ZWSP}*{ZWSP}"
    assert escape("right\u202eto left") == "rightto left"


def test_plain_text_fits_its_limit_with_an_ellipsis() -> None:
    assert plain("x" * 30, 24)["text"] == "x" * 23 + ELLIPSIS
    assert plain("short", 24)["text"] == "short"


def test_the_card_quotes_a_long_excerpt_and_keeps_its_link_whole() -> None:
    routing = load_routing(ROUTING_FILE)
    permalink = "https://acme.slack.com/archives/C0SUPPORT/p1700000000000100"
    case = Case(
        id=7,
        output_key="slack:C0SUPPORT:1700000000.000100",
        system_id="support-assistant",
        category_id="hallucination",
        severity=Severity.high,
        owner="alice",
        output_excerpt="\n".join(["&lt;&amp;&gt; *x*"] * 400),
        output_permalink=permalink,
        trace_id="tr_1" + "&" * 300,
        report_count=6,
        created_at=NOW,
        updated_at=NOW,
    )
    reports = [
        Report(
            case_id=7,
            reporter_id=f"slack:U{i}",
            reporter_slack_id=f"U0R{i}",
            channel=Channel.slack_shortcut,
            category_id="hallucination",
            severity=Severity.high,
            comment="<&>" * 1000,
            expected="_" * 3000,
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(6)
    ]
    blocks = card_blocks(case, reports, routing, "U0ALICE")
    payload = {"text": "card", "blocks": blocks}
    items = sent(FakeSlack(), [payload])
    assert all_problems(items, {"U0ALICE"} | {f"U0R{i}" for i in range(6)}) == []
    excerpt = blocks[2]["text"]["text"]
    assert excerpt.startswith(">&lt;&amp;&gt; ")  # Slack's entities shown once, not twice
    assert excerpt.endswith(f"\n<{permalink}|Open the flagged message>")
    assert ELLIPSIS in excerpt
    comments = [b for b in blocks if b["type"] == "context"][1:]
    assert len(comments) == card.MAX_COMMENTS
