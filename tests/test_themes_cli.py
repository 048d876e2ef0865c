"""`loopkeeper themes` on real databases (SQLite and PostgreSQL), and the store it reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.models import Role, Severity
from digests.history import CaseHistory, reported
from storage.database import create_engine
from storage.theme_texts import SqlThemeTexts
from tests.test_digest import ROUTING_YAML, seed
from tests.test_digest_cli import run_cli
from tests.themes_fixture import CURRENT_CASES, PREVIOUS_CASES, S

W07_MONDAY = datetime(2026, 2, 9, tzinfo=UTC)  # 2026-W07; London is on GMT in February
W06_MONDAY = W07_MONDAY - timedelta(weeks=1)

Cases = list[tuple[int, str, str, tuple[str | None, ...]]]


def histories(cases: Cases, monday: datetime, excerpt: str | None = None) -> list[CaseHistory]:
    found = []
    for position, (number, system, category, comments) in enumerate(cases):
        opened = monday + timedelta(hours=2 + 5 * position)
        events = [
            reported(opened + timedelta(minutes=10 * i), f"u{i}", comment)
            for i, comment in enumerate(comments)
        ]
        found.append(
            CaseHistory(
                output_key=f"themes:{monday:%V}:{number}",
                system_id=system,
                category_id=category,
                severity=Severity.medium,
                owner=None,
                owner_role=Role.validation,
                events=events,
                output_excerpt=excerpt,
            )
        )
    return found


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING_YAML, encoding="utf-8")
    return {"LOOPKEEPER_DATABASE_URL": database_url, "LOOPKEEPER_CONFIG": str(routing)}


@pytest.fixture
async def fixture_weeks(database_url: str) -> None:
    """The themes fixture: 2026-W07 (cases #1–#11) and the week before (#12–#17)."""
    await seed(database_url, histories(CURRENT_CASES, W07_MONDAY))
    await seed(database_url, histories(PREVIOUS_CASES, W06_MONDAY))


@pytest.mark.usefixtures("fixture_weeks")
async def test_themes_as_json(env: dict[str, str]) -> None:
    result = await run_cli(env, "themes", "--week", "2026-W07", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["week"], data["so_far"]) == ("2026-W07", False)
    refund, casual, language = data["themes"]
    assert "refund" in refund["label"]
    assert (refund["reports"], refund["cases"], refund["case_numbers"]) == (6, 4, [1, 2, 3])
    assert refund["systems"] == ["support-assistant", "code-helper", "hr-bot"]
    assert refund["change"]["previous"] == 2
    assert (casual["cases"], casual["change"]["previous"]) == (3, 0)
    assert (language["cases"], language["change"]["previous"]) == (3, 4)


@pytest.mark.usefixtures("fixture_weeks")
async def test_themes_as_a_table_for_people(env: dict[str, str]) -> None:
    result = await run_cli(env, "themes", "--week", "2026-W07")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Recurring themes · 2026-W07 (9–15 Feb 2026)"
    [refund] = [line for line in lines if "refund" in line]
    for cell in ("up from 2 last week", "Support Assistant, Code Helper and HR Bot", "#1, #2, #3"):
        assert cell in refund
    assert lines[-1].startswith("Grouped on this machine (wordllama)")


@pytest.mark.usefixtures("fixture_weeks")
async def test_themes_of_one_system(env: dict[str, str]) -> None:
    result = await run_cli(env, "themes", "--week", "2026-W07", "--system", S, "--format", "json")

    assert result.exit_code == 0, result.output
    themes = json.loads(result.stdout)["themes"]
    assert [(t["case_numbers"], t["systems"]) for t in themes] == [([1, 3], [S]), ([8, 10], [S])]


async def test_a_week_without_themes_says_so(env: dict[str, str]) -> None:
    result = await run_cli(env, "themes", "--week", "2026-W07")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "No recurring themes in 2026-W07: no complaint came up on two cases or more."
    )


async def test_themes_refuse_bad_input_in_one_line(env: dict[str, str]) -> None:
    future = await run_cli(env, "themes", "--week", "2099-W01")
    assert future.exit_code == 1
    assert future.output.startswith("2099-W01 has not started yet: pick 20")
    assert len(future.output.strip().splitlines()) == 1

    unknown = await run_cli(env, "themes", "--system", "support-asistant")
    assert unknown.exit_code == 1
    assert unknown.output == (
        "No AI system 'support-asistant' in the routing file "
        "(systems: support-assistant, code-helper, hr-bot).\n"
    )

    malformed = await run_cli(env, "themes", "--week", "2026-W99")
    assert malformed.exit_code == 2
    assert "2026 has no ISO week 99" in malformed.output


async def test_the_week_in_progress_is_so_far(env: dict[str, str]) -> None:
    result = await run_cli(env, "themes", "--week", _this_week(), "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["so_far"] is True


def _this_week() -> str:
    from digests.week import IsoWeek

    return str(IsoWeek.containing(datetime.now(UTC), "Europe/London"))


OUTPUT = "Under our 60-day refund policy you can return opened items for a full refund."
SILENT_CASES: Cases = [(1, S, "hallucination", (None,)), (2, S, "hallucination", (None,))]


@pytest.fixture
def private_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The same routing with `privacy.store_output_text` off."""
    routing = tmp_path / "private.yaml"
    routing.write_text(ROUTING_YAML + "privacy: {store_output_text: false}\n", encoding="utf-8")
    return {**env, "LOOPKEEPER_CONFIG": str(routing)}


async def test_output_excerpts_are_read_only_while_privacy_allows(
    env: dict[str, str], private_env: dict[str, str], database_url: str
) -> None:
    # Two reports with no comment, on two cases whose flagged outputs say the same thing.
    await seed(database_url, histories(SILENT_CASES, W07_MONDAY, excerpt=OUTPUT))

    shown = await run_cli(env, "themes", "--week", "2026-W07", "--format", "json")
    assert shown.exit_code == 0, shown.output
    [theme] = json.loads(shown.stdout)["themes"]
    assert "refund" in theme["label"] and theme["case_numbers"] == [1, 2]

    hidden = await run_cli(private_env, "themes", "--week", "2026-W07", "--format", "json")
    assert hidden.exit_code == 0, hidden.output
    assert json.loads(hidden.stdout)["themes"] == []

    engine = create_engine(database_url)
    try:
        texts = await SqlThemeTexts(engine, include_output=True).report_texts(
            W07_MONDAY, W07_MONDAY + timedelta(weeks=1), None
        )
        none = await SqlThemeTexts(engine, include_output=False).report_texts(
            W07_MONDAY, W07_MONDAY + timedelta(weeks=1), None
        )
    finally:
        await engine.dispose()
    assert [t.output for t in texts] == [OUTPUT, OUTPUT]
    assert none == []  # reports with no words of their own are not read at all


async def test_the_demo_has_themes_across_systems(env: dict[str, str]) -> None:
    seeded = await run_cli(env, "demo", "--weeks", "2")
    assert seeded.exit_code == 0, seeded.output

    result = await run_cli(env, "themes", "--format", "json")

    assert result.exit_code == 0, result.output
    themes = json.loads(result.stdout)["themes"]
    assert len(themes) >= 3
    assert any(len(t["systems"]) >= 2 for t in themes)
    assert all(t["cases"] >= 2 and t["label"] for t in themes)
