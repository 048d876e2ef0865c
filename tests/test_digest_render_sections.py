"""The digest's action sections in every renderer: priorities' owners and next steps, the
backlog beside them, recurring themes (hand-made here: digests/themes computes them) and prompt
versions with their regressions; within Slack's and Teams' limits and inert to markup."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.core.card_markdown import inert
from digests.model import Change, Owner, SurgeEntry, Theme, VersionRow, WeeklyDigest
from digests.render_blocks import block_kit_problems, render_blocks
from digests.render_card import render_card
from digests.render_html import render_html
from digests.render_json import render_json
from digests.render_markdown import render_markdown
from handlers.teams.card_budget import ACTIVITY_BUDGET, wire_size
from handlers.teams.digest import TOO_BIG, digest_activity
from tests.inert_markup import HOSTILE_TEXT, assert_inert, markdown_texts
from tests.test_digest_hostile_text import markdown_structure, parsed
from tests.test_digest_render import big_digest

REGRESSION = "s0 prompt v8: 3.1× the flags per day of v7, since Tue"


def theme(i: int, label: str | None = None) -> Theme:
    return Theme(
        label=label or f"refund policy {i}",
        terms=["refund", "policy"],
        reports=9 - i % 9,
        cases=3,
        systems=["s0", "s1"],
        categories=["hallucination"],
        change=Change(current=9, previous=4),
        case_numbers=[12, 15, 31],
    )


def version(i: int, prompt: str = "v8", regression: str | None = None) -> VersionRow:
    return VersionRow(
        system_id=f"s{i % 2}",
        prompt_version=prompt,
        model="gpt-4o",
        reports=20 - i % 20,
        previous=5,
        rate=3.25,
        rate_per_1k=None if i % 2 else 1.5,
        regression=regression,
        predecessor="v7",
        first_seen=datetime(2026, 2, 10, 9, tzinfo=UTC),
        series=[0, 0, 0, 0, 1, 2, 5, 20],
    )


def sectioned(
    digest: WeeklyDigest, *, themes: int = 2, versions: int = 3, label: str | None = None
) -> WeeklyDigest:
    owner = Owner(person="alice", name=label or "Alice", role="validation")
    step = f"ask {owner.name} (validation) for a fix date: 9 open, oldest breached 3 d"
    priorities = [
        p.model_copy(update={"owner": owner, "next_step": step, "theme": label or "refund"})
        for p in digest.priorities
    ]
    return digest.model_copy(
        update={
            "priorities": priorities,
            "themes": [theme(i, label) for i in range(themes)],
            "versions": [version(0, label or "v8", label or REGRESSION)]
            + [version(i, label or f"v{i}") for i in range(1, versions)],
        }
    )


def test_every_format_shows_next_steps_backlog_themes_and_versions() -> None:
    digest = sectioned(big_digest(systems=3))

    markdown = render_markdown(digest)
    order = [
        markdown.index(heading)
        for heading in (
            "## Suggested priorities",
            "## Open backlog at week end",
            "## Recurring themes",
            "## Top cases",
            "## Prompt versions and models",
        )
    ]
    assert order == sorted(order)
    assert "   → ask Alice (validation) for a fix date: 9 open, oldest breached 3 d" in markdown
    assert "- **refund policy 0**: 9 reports on 3 cases (up from 4 last week)" in markdown
    assert f"- ⚠ **{REGRESSION}**" in markdown

    blocks = json.dumps(render_blocks(digest), ensure_ascii=False)
    for shown in ("→ ask Alice (validation)", "🧩 Recurring themes", "*refund policy 1*",
                  f"⚠ *{REGRESSION}*", "📥 Open at week end"):  # fmt: skip
        assert shown in blocks, shown
    assert blocks.index("📥 Open at week end") < blocks.index("🔥 Top cases")

    card = json.dumps(render_card(digest), ensure_ascii=False)
    for shown in ("→ ask Alice (validation)", "Recurring themes", "refund policy 1",
                  f"⚠ {REGRESSION}", "Open at week end", "Prompt versions and models"):  # fmt: skip
        assert shown in card, shown

    html = render_html(digest)
    for shown in ('<span class="step">→ ask Alice (validation)', "<h2>Recurring themes</h2>",
                  f"<li>⚠ {REGRESSION}</li>", "<h2>Prompt versions and models</h2>"):  # fmt: skip
        assert shown in html, shown
    assert html.index("Open backlog at week end") < html.index("<h2>Top cases</h2>")

    data = json.loads(render_json(digest))
    assert data["themes"][0]["label"] == "refund policy 0"
    assert data["versions"][0]["regression"] == REGRESSION
    assert data["priorities"][0]["owner"] == {
        "person": "alice", "name": "Alice", "role": "validation"
    }  # fmt: skip


def test_no_themes_no_themes_section() -> None:
    digest = sectioned(big_digest(systems=3), themes=0)
    assert "Recurring themes" not in render_markdown(digest)
    assert "Recurring themes" not in json.dumps(render_blocks(digest), ensure_ascii=False)
    assert "Recurring themes" not in json.dumps(render_card(digest), ensure_ascii=False)
    assert "Recurring themes" not in render_html(digest)


def test_many_long_themes_and_versions_stay_within_slack_and_teams_limits() -> None:
    digest = sectioned(big_digest(systems=80, owners=60, name_length=400), themes=40, versions=60)
    digest = digest.model_copy(
        update={"themes": [theme(i, "theme " + "t" * 400 + str(i)) for i in range(40)]}
    )
    payload = render_blocks(digest, chart_url="https://example.com/c.png")
    assert block_kit_problems(payload) == []
    texts = json.dumps(payload, ensure_ascii=False)
    assert "… and 33 more themes" in texts and "more versions" in texts

    activity = digest_activity(digest, note=None)
    assert wire_size(activity) <= ACTIVITY_BUDGET
    assert TOO_BIG not in json.dumps(activity)  # shortened names make it fit, not a fallback


def test_theme_and_version_names_are_text_in_every_format() -> None:
    plain = sectioned(big_digest(systems=3), label="Support Assistant")
    hostile = sectioned(big_digest(systems=3), label=HOSTILE_TEXT)
    assert markdown_structure(render_markdown(hostile)) == markdown_structure(
        render_markdown(plain)
    )
    assert parsed(render_html(hostile)).tags == parsed(render_html(plain)).tags
    blocks = json.dumps(render_blocks(hostile))
    assert "<script>" not in blocks and "<https://evil.example>" not in blocks
    assert "&lt;script&gt;" in blocks  # shown, as text


TUESDAY = datetime(2026, 2, 10, 14, 2, tzinfo=UTC)
SURGE_LINE = "200 cases from Tue 14:02 UTC until Tue 15:10 UTC, 12 still open."


def surged(digest: WeeklyDigest, count: int = 2) -> WeeklyDigest:
    """`digest` with `count` surges: the first on s1 and over, the others on s0 and still going."""
    ended = SurgeEntry(
        system_id="s1", first_seen=TUESDAY, ended=datetime(2026, 2, 10, 15, 10, tzinfo=UTC),
        cases=200, open=12,
    )  # fmt: skip
    going = [
        SurgeEntry(system_id="s0", first_seen=TUESDAY, ended=None, cases=30 + i, open=30)
        for i in range(count - 1)
    ]
    return digest.model_copy(update={"surges": [ended, *going]})


def test_every_format_shows_the_weeks_surges_in_the_same_words() -> None:
    digest = surged(sectioned(big_digest(systems=3)))
    still_going = "30 cases from Tue 14:02 UTC, still going, 30 still open."

    markdown = render_markdown(digest)
    assert f"- System 1: {SURGE_LINE}" in markdown

    blocks = render_blocks(digest)
    assert block_kit_problems(blocks) == []
    texts = [b["text"]["text"] for b in blocks["blocks"] if b["type"] == "section"]
    surges = next(t for t in texts if t.startswith("*🌊 Surges*"))
    assert surges == f"*🌊 Surges*\nSystem 1: {SURGE_LINE}\nSystem 0: {still_going}"
    # beside the other sections, in the Markdown digest's order
    assert texts.index(surges) == 1 + next(
        i for i, t in enumerate(texts) if t.startswith("*🧪 Prompt versions")
    )

    card = render_card(digest)
    headings = [e.get("text") for e in card["body"] if e.get("separator")]
    assert headings.index("Surges") == headings.index("Prompt versions and models") + 1
    facts = card["body"][[e.get("text") for e in card["body"]].index("Surges") + 1]["facts"]
    assert [(f["title"], f["value"]) for f in facts] == [
        ("System 1", inert(SURGE_LINE)), ("System 0", inert(still_going))
    ]  # fmt: skip

    html = render_html(digest)
    assert f"<h2>Surges</h2><ul><li>System 1: {SURGE_LINE}</li>" in html.replace("\n", "")
    assert html.index("<h2>Prompt versions and models</h2>") < html.index("<h2>Surges</h2>")


def test_no_surges_no_surges_section() -> None:
    digest = sectioned(big_digest(systems=3))
    assert "Surges" not in render_markdown(digest)
    assert "Surges" not in json.dumps(render_blocks(digest), ensure_ascii=False)
    assert "Surges" not in json.dumps(render_card(digest), ensure_ascii=False)
    assert "Surges" not in render_html(digest)


def test_many_surges_on_long_names_stay_within_slack_and_teams_limits() -> None:
    digest = surged(big_digest(systems=80, owners=60, name_length=400), count=40)
    digest = sectioned(digest, themes=40, versions=60)
    payload = render_blocks(digest, chart_url="https://example.com/c.png")
    assert block_kit_problems(payload) == []
    assert "… and 33 more surges" in json.dumps(payload, ensure_ascii=False)

    activity = digest_activity(digest, note=None)
    assert wire_size(activity) <= ACTIVITY_BUDGET
    assert TOO_BIG not in json.dumps(activity)  # shortened names make it fit, not a fallback
    body = activity["attachments"][0]["content"]["body"]
    facts = body[[e.get("text") for e in body].index("Surges") + 1]["facts"]
    assert len(facts) == 8 and facts[-1] == {"title": "…", "value": "33 more"}


def test_surging_system_names_are_text_in_every_format() -> None:
    plain = surged(big_digest(systems=3, system_name="Support Assistant"))
    name = "<!channel> <script>alert(1)</script> & " + HOSTILE_TEXT
    hostile = surged(big_digest(systems=3, system_name=name))
    assert markdown_structure(render_markdown(hostile)) == markdown_structure(
        render_markdown(plain)
    )
    assert parsed(render_html(hostile)).tags == parsed(render_html(plain)).tags
    assert "&lt;script&gt;" in render_html(hostile).split("<h2>Surges</h2>")[1]

    payload = render_blocks(hostile)
    assert block_kit_problems(payload) == []
    surges = next(
        b["text"]["text"] for b in payload["blocks"]
        if b["type"] == "section" and b["text"]["text"].startswith("*🌊 Surges*")
    )  # fmt: skip
    # no raw "<": it would open a Slack link or mention
    assert "<" not in surges and surges.count("still open.") == 2
    assert "&lt;!channel&gt; &lt;script&gt;" in surges  # shown, as text

    activity = digest_activity(hostile, note=None)
    card = activity["attachments"][0]["content"]
    heading = [e.get("text") for e in card["body"]].index("Surges")
    facts = card["body"][heading + 1]["facts"]
    assert len(facts) == 2
    for text in markdown_texts(facts):
        assert_inert(text)
