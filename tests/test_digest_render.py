"""Rendering the digest: Markdown, HTML, JSON, Slack Block Kit, Adaptive Card, the chart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.models import CaseStatus, Severity
from digests.chart import render_chart
from digests.links import card_link
from digests.model import (
    Backlog,
    BacklogRow,
    Breakdown,
    Change,
    LoopClosure,
    Mover,
    Priority,
    Response,
    SystemRef,
    TopCase,
    Totals,
    Week,
    WeeklyDigest,
    WeekPoint,
)
from digests.render_blocks import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    block_kit_problems,
    render_blocks,
)
from digests.render_card import render_card
from digests.render_html import render_html
from digests.render_json import render_json
from digests.render_markdown import render_markdown
from digests.week import IsoWeek
from tests.test_digest import digest_of, seed

WEEK = IsoWeek(2026, 7)
QUIET_LINE = "Quiet week: no reports on Support Assistant, Code Helper and HR Bot in 2026-W07."


@pytest.fixture
async def quiet(database_url: str) -> WeeklyDigest:
    return await digest_of(database_url)


async def test_a_quiet_week_is_one_line_everywhere(quiet: WeeklyDigest) -> None:
    assert quiet.quiet
    assert render_markdown(quiet) == QUIET_LINE + "\n"
    blocks = render_blocks(quiet)
    assert blocks == {
        "text": QUIET_LINE,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": QUIET_LINE}}],
    }
    data = json.loads(render_json(quiet))
    assert data["quiet"] is True and data["headline"] == QUIET_LINE
    html = render_html(quiet)
    assert f"<p>{QUIET_LINE}</p>" in html and "<table" not in html
    card = render_card(quiet)
    assert card["version"] == "1.5"
    assert [element["text"] for element in card["body"]] == [QUIET_LINE]


async def test_a_late_note_stays_on_the_quiet_line(quiet: WeeklyDigest) -> None:
    blocks = render_blocks(quiet, note="Posted late: the bot was down on Monday.")
    assert len(blocks["blocks"]) == 1
    assert blocks["blocks"][0]["text"]["text"].startswith(QUIET_LINE)


async def test_every_format_of_the_fixture_week(database_url: str) -> None:
    from tests.test_digest import FIXTURE

    await seed(database_url, FIXTURE)
    digest = await digest_of(database_url)

    markdown = render_markdown(digest)
    assert markdown.startswith("# Weekly AI feedback digest · 2026-W07\n")
    assert "1. **Support Assistant · Unsafe or harmful**: 5 reports, critical, " in markdown
    # Top cases list open ones first (issue #13), so the resolved #6 gives way.
    assert (
        "| 1 | [#10](https://slack.com/app_redirect?channel=C0TRIAGE&message_ts=1770000000.000010)"
        " | HR Bot | Leaked personal data | critical | 2 of 2 | new |"
    ) in markdown
    assert "- Made-up or wrong facts: 2 → 6 (+4, 3×)" in markdown
    assert "| Code Helper | 3 | 3h | 3d 5h | 1 | 2d | 2d | 1 |" in markdown
    assert "| **All systems** | 1 | 3 | 2 | 6 |" in markdown
    assert "2 of 4 cases closed this week told every reporter how it ended (50%)." in markdown
    assert "u1" not in markdown  # reporters are counted, never named

    payload = render_blocks(digest, chart_file_id="F0CHART")
    assert block_kit_problems(payload) == []
    texts = json.dumps(payload, ensure_ascii=False)
    for case_id, ts in ((10, "000010"), (8, "000008"), (1, "000001"), (5, "000005")):
        assert f"message_ts=1770000000.{ts}|#{case_id}>" in texts
    assert {"type": "image", "slack_file": {"id": "F0CHART"}}.items() <= payload["blocks"][
        3
    ].items()
    assert "u1" not in texts and "u10" not in texts

    with_base = render_blocks(digest, permalink_base="https://acme.slack.com/archives/")
    assert "https://acme.slack.com/archives/C0TRIAGE/p1770000000000010|#10>" in json.dumps(
        with_base
    )

    card = render_card(digest)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    runs = [
        run
        for element in card["body"]
        if element["type"] == "RichTextBlock"
        for run in element["inlines"]
    ]
    linked = [run for run in runs if "selectAction" in run]
    assert [run["text"] for run in linked] == ["#10", "#8", "#1", "#5", "#11"]
    assert len(json.dumps(card)) < 28_000  # Teams' message size limit

    png = render_chart(digest)
    html = render_html(digest, chart_png=png)
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert '<a href="https://slack.com/app_redirect?channel=C0TRIAGE&amp;message_ts=' in html
    assert "<script" not in html

    data = json.loads(render_json(digest))
    assert data["totals"]["reports"] == {"current": 16, "previous": 4, "delta": 12, "ratio": 4.0}
    assert data["loop_closure"]["ratio"] == 0.5
    assert WeeklyDigest.model_validate(data) == digest


def test_the_chart_is_a_png_drawn_off_screen() -> None:
    import matplotlib

    png = render_chart(big_digest(systems=12))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert matplotlib.get_backend().lower() == "agg"


def test_links_to_cards() -> None:
    assert card_link("C1", "1700000000.000100") == (
        "https://slack.com/app_redirect?channel=C1&message_ts=1700000000.000100"
    )
    assert card_link("C1", "1700000000.000100", "https://x.slack.com/archives") == (
        "https://x.slack.com/archives/C1/p1700000000000100"
    )
    assert card_link(None, "1.2") is None and card_link("C1", None) is None


def test_block_kit_stays_within_slacks_limits_however_big_the_week() -> None:
    digest = big_digest(systems=80, owners=60, name_length=400)
    payload = render_blocks(digest, chart_url="https://example.com/c.png", note="x" * 5000)
    assert block_kit_problems(payload) == []
    blocks = payload["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_HEADER for b in blocks if b["type"] == "header")
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= MAX_SECTION for text in sections)
    top = next(text for text in sections if text.startswith("*🔥 Top cases*"))
    assert top.count("https://slack.com/app_redirect?channel=") == 5
    assert any("… and 73 more systems" in text for text in sections)
    assert any("… and 53 more owners" in text for text in sections)


def test_mrkdwn_and_html_escape_what_people_typed() -> None:
    digest = big_digest(systems=2, system_name="<!channel> & <script>alert(1)</script>")
    texts = json.dumps(render_blocks(digest))
    assert "<!channel>" not in texts and "&lt;!channel&gt; &amp;" in texts
    html = render_html(digest)
    assert "<script>" not in html and "&lt;script&gt;" in html
    markdown = render_markdown(big_digest(systems=1, system_name="a|b *c*"))
    assert "a\\|b \\*c\\*" in markdown


def test_block_kit_problems_are_reported() -> None:
    payload = {
        "text": "",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
        + [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}] * 50,
    }
    problems = block_kit_problems(payload)
    assert problems[0] == "51 blocks (at most 50)"
    assert "blocks[0]: header of 151 characters" in problems
    assert "blocks[1]: section text of 3001 characters" in problems
    assert problems[-1] == "no fallback text"


def big_digest(
    *, systems: int, owners: int = 3, name_length: int = 0, system_name: str | None = None
) -> WeeklyDigest:
    """A synthetic digest with `systems` systems and `owners` owners, every list full."""
    start = datetime(2026, 2, 9, tzinfo=UTC)

    def name(i: int) -> str:
        base = system_name or f"System {i}"
        return (base + " " + "n" * name_length)[: max(len(base), name_length)]

    refs = [SystemRef(id=f"s{i}", name=name(i)) for i in range(systems)]
    rows = [
        Breakdown(
            key=r.id,
            label=r.name,
            reports=Change(current=100 - i, previous=i),
            cases=Change(current=10, previous=3),
        )
        for i, r in enumerate(refs)
    ]

    def response(key: str, label: str) -> Response:
        return Response(
            key=key,
            name=label,
            acknowledged=3,
            acknowledge_median_seconds=3600,
            acknowledge_p90_seconds=7200,
            resolved=2,
            resolve_median_seconds=86400,
            resolve_p90_seconds=90000,
            sla_breaches=1,
        )

    return WeeklyDigest(
        digest="weekly",
        generated_at=start + timedelta(days=7, hours=9),
        week=Week(
            iso="2026-W07",
            timezone="Europe/London",
            start_local=start,
            end_local=start + timedelta(days=7),
            start_utc=start,
            end_utc=start + timedelta(days=7),
            hours=168,
            label="9–15 Feb 2026",
        ),
        systems=refs,
        quiet=False,
        headline="Lots of reports.",
        totals=Totals(
            reports=Change(current=5000, previous=4000),
            cases=Change(current=800, previous=700),
            reporters=Change(current=300, previous=280),
            new_cases=500,
            reopened_cases=20,
            acknowledged_cases=400,
            closed_cases=380,
            sla_breaches=40,
            activity=9000,
        ),
        by_system=rows,
        by_category=rows[:6],
        by_severity=rows[:4],
        series=[
            WeekPoint(
                week=str(WEEK.shift(i - 7)),
                start_utc=start + timedelta(weeks=i - 7),
                reports=10 * i,
                cases=i,
                reports_by_system={r.id: i + n for n, r in enumerate(refs)},
            )
            for i in range(8)
        ],
        top_cases=[
            TopCase(
                rank=i + 1,
                case_id=1000 + i,
                system_id=refs[i % systems].id,
                system_name=refs[i % systems].name,
                category_id="hallucination",
                category_label="Made-up or wrong facts " + "x" * name_length,
                severity=Severity.critical,
                status=CaseStatus.new,
                reports=50 - i,
                total_reports=60,
                score=8 * (50 - i),
                opened_at=start,
                owner="alice",
                owner_name="Alice",
                slack_card_channel="C0TRIAGE",
                slack_card_ts=f"1770000000.{i:06d}",
                output_permalink=None,
            )
            for i in range(5)
        ],
        movers=[
            Mover(
                category_id="hallucination",
                label="Made-up or wrong facts",
                current=30,
                previous=10,
                delta=20,
                ratio=3.0,
            )
        ],
        response_by_system=[response(r.id, r.name) for r in refs],
        response_by_owner=[
            response(f"p{i}", f"Person {i} " + "o" * name_length) for i in range(owners)
        ],
        backlog=Backlog(
            as_of=start + timedelta(days=7),
            total=BacklogRow(key="", name="All systems", under_1d=5, from_1d_to_7d=6, over_7d=7),
            by_system=[
                BacklogRow(key=r.id, name=r.name, under_1d=1, from_1d_to_7d=2, over_7d=3)
                for r in refs
            ],
        ),
        loop_closure=LoopClosure(closed_cases=380, all_told=350),
        priorities=[
            Priority(
                rank=i + 1,
                system_id=refs[i % systems].id,
                system_name=refs[i % systems].name,
                category_id="unsafe",
                category_label="Unsafe or harmful",
                severity=Severity.critical,
                reports=40,
                previous_reports=10,
                cases=5,
                open_cases=2,
                sla_breaches=1,
                score=1000.0 - i,
                reason="40 reports, critical, up 4× on last week, 1 SLA breach, 2 still open",
            )
            for i in range(5)
        ],
    )
