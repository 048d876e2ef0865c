"""`loopkeeper digest` and `loopkeeper demo` on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner, Result

from bot.app.cli import app
from digests.week import IsoWeek
from storage.database import create_engine
from storage.digest_tables import ReporterToldRow
from storage.tables import CaseRow, OutboxRow, ReportRow, TimelineRow
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.test_digest import FIXTURE, ROUTING_YAML, seed


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


async def run_cli(env: dict[str, str], *args: str) -> Result:
    """The CLI calls asyncio.run: run it away from the test's event loop."""
    return await asyncio.to_thread(invoke, env, *args)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING_YAML, encoding="utf-8")
    return {"LOOPKEEPER_DATABASE_URL": database_url, "LOOPKEEPER_CONFIG": str(routing)}


async def test_digest_as_json_for_a_given_week(env: dict[str, str], database_url: str) -> None:
    await seed(database_url, FIXTURE)
    result = await run_cli(env, "digest", "--week", "2026-W07", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["week"]["iso"] == "2026-W07"
    assert data["quiet"] is False
    assert data["totals"]["reports"]["current"] == 16
    assert [c["case_id"] for c in data["top_cases"]] == [10, 8, 1, 5, 11]  # open first
    assert data["priorities"][0]["reason"] == "5 reports, critical, new this week, 1 SLA breach"


async def test_digest_markdown_and_html(env: dict[str, str], database_url: str) -> None:
    await seed(database_url, FIXTURE)
    markdown = await run_cli(env, "digest", "--week", "2026-W07")
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.startswith("# Weekly AI feedback digest · 2026-W07\n")
    html = await run_cli(env, "digest", "--week", "2026-W07", "--format", "html")
    assert html.exit_code == 0, html.output
    assert html.stdout.startswith("<!DOCTYPE html>")
    assert "data:image/png;base64," in html.stdout


async def test_digest_defaults_to_the_last_full_week_and_says_quiet(
    env: dict[str, str],
) -> None:
    result = await run_cli(env, "digest", "--name", "weekly")
    assert result.exit_code == 0, result.output
    from datetime import UTC, datetime

    week = IsoWeek.last_full_week(datetime.now(UTC), "Europe/London")
    assert result.stdout == (
        f"Quiet week: no reports on Support Assistant, Code Helper and HR Bot in {week}.\n"
    )


async def test_digest_refuses_bad_input(env: dict[str, str]) -> None:
    bad_week = await run_cli(env, "digest", "--week", "2026-W99")
    assert bad_week.exit_code == 2
    assert "2026 has no ISO week 99" in bad_week.output
    unknown = await run_cli(env, "digest", "--name", "monthly")
    assert unknown.exit_code == 1
    assert "No digest named 'monthly'" in unknown.output


async def test_digest_needs_a_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"
    result = await run_cli({"LOOPKEEPER_DATABASE_URL": url}, "digest")
    assert result.exit_code == 1
    assert "No database at" in result.output


async def test_post_without_a_platform_says_what_it_needs(env: dict[str, str]) -> None:
    result = await run_cli(env, "digest", "--post")
    assert result.exit_code == 1
    assert "connect Slack or Teams first" in result.output


async def test_post_sends_the_digest_and_its_chart_to_slack(
    env: dict[str, str], database_url: str, slack: FakeSlack
) -> None:
    await seed(database_url, FIXTURE)
    slack_env = {
        **env,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "test-signing-secret-0123456789",
        "SLACK_API_URL": slack.url,
        "LOOPKEEPER_TEAMS": "off",
    }

    result = await run_cli(slack_env, "digest", "--week", "2026-W07", "--post")

    assert result.exit_code == 0, result.output
    assert "Posted digest 'weekly' for 2026-W07" in result.output
    [posted] = [c for c in slack.calls_to("chat.postMessage") if c.get("blocks")]
    assert posted["blocks"][0]["text"]["text"] == "Weekly AI feedback digest · 2026-W07"
    assert [b[:4] for b in slack.uploads.values()] == [b"\x89PNG"]


async def test_demo_then_digest(env: dict[str, str], database_url: str) -> None:
    seeded = await run_cli(env, "demo", "--weeks", "8")
    assert seeded.exit_code == 0, seeded.output
    assert seeded.stdout.startswith("Seeded ")
    assert "on 3 AI systems over 8 weeks" in seeded.stdout
    assert seeded.stdout.rstrip().endswith("Try: loopkeeper digest")

    digest = await run_cli(env, "digest", "--format", "json")
    assert digest.exit_code == 0, digest.output
    data = json.loads(digest.stdout)
    assert data["quiet"] is False
    assert data["totals"]["reports"]["current"] > 0
    assert sum(p["reports"] for p in data["series"]) > data["totals"]["reports"]["current"]
    assert data["priorities"] and data["top_cases"]
    assert data["totals"]["sla_breaches"] > 0
    markdown = await run_cli(env, "digest")
    assert "## Suggested priorities" in markdown.stdout

    marks = await demo_marks(database_url)
    assert marks["cases"] == marks["demo cases"] > 0
    assert marks["reports"] == marks["demo reporters"]
    assert marks["comments"] == marks["demo comments"] > 0
    assert marks["outcome DMs"] == marks["delivered"] > 0

    again = await run_cli(env, "demo")
    assert again.exit_code == 1
    assert "already holds" in again.output and "demo --yes" in again.output

    replaced = await run_cli(env, "demo", "--yes")
    assert replaced.exit_code == 0, replaced.output
    assert f"Removed {marks['cases']} earlier demo cases." in replaced.stdout
    assert (await demo_marks(database_url))["cases"] == marks["cases"]
    verified = await run_cli(env, "audit", "verify")
    assert verified.exit_code == 0, verified.output


async def test_demo_keeps_real_cases_and_their_timeline(
    env: dict[str, str], database_url: str
) -> None:
    await seed(database_url, FIXTURE)
    assert (await run_cli(env, "demo", "--weeks", "2")).exit_code == 0
    replaced = await run_cli(env, "demo", "--weeks", "2", "--yes")
    assert replaced.exit_code == 0, replaced.output
    marks = await demo_marks(database_url)
    assert marks["cases"] - marks["demo cases"] == len(FIXTURE)
    still = await run_cli(env, "digest", "--week", "2026-W07", "--format", "json")
    assert json.loads(still.stdout)["totals"]["reports"]["current"] == 16
    # the append-only guard is back: deleting a timeline entry is refused again
    engine = create_engine(database_url)
    try:
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(delete(TimelineRow))
    finally:
        await engine.dispose()


async def test_demo_refuses_production(env: dict[str, str]) -> None:
    result = await run_cli(env | {"LOOPKEEPER_ENV": "production"}, "demo")
    assert result.exit_code == 1
    assert "production" in result.output


async def demo_marks(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    count = func.count()
    try:
        async with engine.connect() as c:
            return {
                "cases": await c.scalar(select(count).select_from(CaseRow)) or 0,
                "demo cases": await c.scalar(select(count).where(CaseRow.output_key.like("demo:%")))
                or 0,
                "reports": await c.scalar(
                    select(count)
                    .select_from(ReportRow)
                    .join(CaseRow, CaseRow.id == ReportRow.case_id)
                    .where(CaseRow.output_key.like("demo:%"))
                )
                or 0,
                "demo reporters": await c.scalar(
                    select(count).where(ReportRow.reporter_id.like("demo:user-%"))
                )
                or 0,
                "comments": await c.scalar(select(count).where(ReportRow.comment.is_not(None)))
                or 0,
                "demo comments": await c.scalar(
                    select(count).where(ReportRow.comment.like("[demo] %"))
                )
                or 0,
                # Reporters told (receipts of demo cases), plus anything the outbox would
                # still send: demo data must leave nothing for a running bot to deliver.
                "outcome DMs": (
                    await c.scalar(
                        select(count)
                        .select_from(ReporterToldRow)
                        .join(CaseRow, CaseRow.id == ReporterToldRow.case_id)
                        .where(CaseRow.output_key.like("demo:%"))
                    )
                    or 0
                )
                + (await c.scalar(select(count).where(OutboxRow.delivered_at.is_(None))) or 0),
                "delivered": await c.scalar(
                    select(count)
                    .select_from(ReporterToldRow)
                    .join(CaseRow, CaseRow.id == ReporterToldRow.case_id)
                    .where(CaseRow.output_key.like("demo:%"))
                )
                or 0,
            }
    finally:
        await engine.dispose()


async def test_demo_data_exports_as_an_eval_dataset(env: dict[str, str]) -> None:
    """A builder trying `demo` then `export dataset` gets test cases, not an empty file: demo
    reports carry the question, the whole answer and what it should have said."""
    seeded = await run_cli(env, "demo", "--weeks", "8")
    assert seeded.exit_code == 0, seeded.output
    exported = await run_cli(env, "export", "dataset", "--format", "promptfoo")
    assert exported.exit_code == 0, exported.output
    tests = [json.loads(line) for line in exported.stdout.splitlines()]
    assert tests, exported.output
    for test in tests:
        assert test["vars"]["input"].startswith("[demo] ")
        rubric, not_the_bad_answer = test["assert"]
        assert "[demo] " in rubric["value"] and not_the_bad_answer["value"].startswith("[demo] ")
