"""The digest's recurring themes: in `loopkeeper digest` (every format) and in the bot's digest,
from the themes engine on a fixed fixture (tests/themes_fixture.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digests.model import WeeklyDigest
from digests.render_blocks import block_kit_problems, render_blocks
from digests.themes import section
from digests.themes.embed_tfidf import TfidfEmbedder
from digests.themes.embedder import Embedder
from digests.themes.model import ThemeInput
from digests.week import IsoWeek
from handlers.teams.card_budget import ACTIVITY_BUDGET, wire_size
from handlers.teams.digest import digest_activity
from tests.harness import BotUnderTest
from tests.test_digest import ROUTING_YAML
from tests.test_digest_cli import run_cli
from tests.test_themes_cli import fixture_weeks  # noqa: F401  (a fixture)
from tests.themes_fixture import CURRENT, PREVIOUS, REFUND


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING_YAML, encoding="utf-8")
    return {"LOOPKEEPER_DATABASE_URL": database_url, "LOOPKEEPER_CONFIG": str(routing)}


async def digest_json(env: dict[str, str], week: str | None = "2026-W07") -> dict:  # type: ignore[type-arg]
    result = await run_cli(env, "digest", *(["--week", week] if week else []), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.usefixtures("fixture_weeks")
async def test_the_digest_json_carries_the_weeks_themes(env: dict[str, str]) -> None:
    data = await digest_json(env)

    refund, casual, language = data["themes"]
    assert set(refund) == {
        "label", "terms", "reports", "cases", "systems", "categories", "change", "case_numbers",
    }  # fmt: skip
    assert "refund" in refund["terms"][0] or "refund" in refund["label"]
    # Case #1 has three refund reports: 6 reports, but 4 cases, #1 counted once.
    assert (refund["reports"], refund["cases"], refund["case_numbers"]) == (6, 4, [1, 2, 3])
    assert refund["systems"] == ["support-assistant", "code-helper", "hr-bot"]
    assert refund["change"] == {"current": 6, "previous": 2, "delta": 4, "ratio": 3.0}
    assert "casual" in casual["label"] and casual["cases"] == 3
    assert "english" in language["label"] or "french" in language["label"]
    assert all("chart colours" not in t["label"] for t in data["themes"])  # said once: no theme

    # Same input, same themes; and the same as `loopkeeper themes` finds.
    assert (await digest_json(env))["themes"] == data["themes"]
    themes = await run_cli(env, "themes", "--week", "2026-W07", "--format", "json")
    assert json.loads(themes.stdout)["themes"] == data["themes"]


@pytest.mark.usefixtures("fixture_weeks")
async def test_priorities_name_the_theme_behind_them(env: dict[str, str]) -> None:
    data = await digest_json(env)

    refund_label = data["themes"][0]["label"]
    hallucinations = [p for p in data["priorities"] if p["category_id"] == "hallucination"]
    assert hallucinations and all(p["theme"] == refund_label for p in hallucinations)


@pytest.mark.usefixtures("fixture_weeks")
async def test_every_format_shows_the_themes(env: dict[str, str]) -> None:
    label = (await digest_json(env))["themes"][0]["label"]

    markdown = await run_cli(env, "digest", "--week", "2026-W07")
    assert "## Recurring themes" in markdown.stdout
    assert f"**{label}**: 6 reports on 4 cases (up from 2 last week)" in markdown.stdout
    html = await run_cli(env, "digest", "--week", "2026-W07", "--format", "html")
    assert "Recurring themes" in html.stdout and label in html.stdout


async def test_the_bot_posts_its_digest_with_themes(bot: BotUnderTest) -> None:
    for number, comment in enumerate([*REFUND, "the chart colours are hard to read"]):
        response = await bot.ingest(
            {
                "system": "support-assistant",
                "category": "hallucination",
                "comment": comment,
                "trace_id": f"refund-{number}",
                "reporter": {"slack_id": f"U0REPORTER{number}"},
            }
        )
        assert response.status == 201
    week = IsoWeek.containing(bot.clock.now(), "Europe/London")
    bot.clock.set(week.next().start_utc("Europe/London").replace(hour=9, minute=1))

    assert await bot.runtime.digests.tick() == 1
    await bot.deliver()

    [posted] = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == "C0CONDUCT"]
    blocks = json.dumps(posted["blocks"])
    assert "Recurring themes" in blocks
    assert "refund" in blocks and "4 reports on 4 cases" in blocks


class Counting:
    """Counts model loads; embeds with TF-IDF."""

    def __init__(self) -> None:
        self.loads = 0

    def __call__(self) -> Embedder:
        self.loads += 1
        return TfidfEmbedder()


class Fixed:
    async def report_texts(
        self, start: datetime, end: datetime, systems: Sequence[str] | None
    ) -> list[ThemeInput]:
        return CURRENT if start >= datetime(2026, 2, 9, tzinfo=UTC) else PREVIOUS


async def test_a_process_loads_the_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting()
    monkeypatch.setattr(section, "load_embedder", counting)
    themes = section.WeekThemes(Fixed())
    now = datetime(2026, 2, 20, tzinfo=UTC)

    first = await themes(IsoWeek(2026, 7), None, tz="UTC", now=now)
    again = await themes(IsoWeek(2026, 7), None, tz="UTC", now=now)

    assert counting.loads == 1
    assert first == again and first[0].cases == 4


async def test_the_demo_digest_shows_themes_in_every_format_within_the_limits(
    env: dict[str, str],
) -> None:
    assert (await run_cli(env, "demo")).exit_code == 0

    data = await digest_json(env, week=None)
    assert len(data["themes"]) >= 3
    assert any(len(t["systems"]) >= 2 for t in data["themes"])  # across systems
    assert any(p["theme"] for p in data["priorities"])
    label = data["themes"][0]["label"]
    assert "## Recurring themes" in (await run_cli(env, "digest")).stdout
    assert "Recurring themes" in (await run_cli(env, "digest", "--format", "html")).stdout

    weekly = WeeklyDigest.model_validate(data)
    slack = render_blocks(weekly, note=None)
    assert block_kit_problems(slack) == [] and label in json.dumps(slack["blocks"])
    chart = "https://loopkeeper.example.com/charts/" + "A" * 43 + ".png"
    teams = digest_activity(weekly, None, chart_url=chart)
    assert wire_size(teams) <= ACTIVITY_BUDGET
    card = json.dumps(teams)
    assert label in card and chart in card
