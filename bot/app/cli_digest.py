"""`loopkeeper digest` and `loopkeeper demo`: render or post the weekly digest, seed demo data."""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from bot.app.cli_common import (
    err,
    on_database,
    out,
    plural,
    refusals,
    routing_or_exit,
    settings_or_exit,
)
from bot.core.routing_rules import Routing

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.core.routing_rules import Digest
    from digests.model import WeeklyDigest


class DigestFormat(enum.StrEnum):
    markdown = "markdown"
    json = "json"
    html = "html"


def chosen_digest(routing: Routing, name: str | None) -> Digest:
    from bot.core.routing_rules import Digest, DigestSchedule

    if name is not None:
        for digest in routing.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in routing.digests) or "none"
        err.print(f"No digest named '{escape(name)}' in the routing file (digests: {known}).")
        raise typer.Exit(1)
    if routing.digests:
        return routing.digests[0]
    err.print("The routing file has no `digests:`; showing all systems, weeks in UTC.")
    return Digest(
        name="weekly",
        schedule=DigestSchedule(day="mon", time="09:00", timezone="UTC"),
        systems="all",
    )


def digest_command(
    week: Annotated[
        str | None,
        typer.Option(
            help="ISO week, e.g. 2026-W07 (default: the last full week in the digest's time zone)"
        ),
    ] = None,
    output_format: Annotated[
        DigestFormat, typer.Option("--format", help="markdown, json or html (with the chart)")
    ] = DigestFormat.markdown,
    name: Annotated[
        str | None, typer.Option("--name", help="which `digests:` entry (default: the first)")
    ] = None,
    post: Annotated[
        bool, typer.Option("--post", help="send it to the digest's channels instead of printing")
    ] = False,
) -> None:
    """Render the weekly digest: what went wrong, what is trending, who responded, what next."""
    from digests.week import IsoWeek

    settings = settings_or_exit()
    routing = routing_or_exit(settings, err)
    digest = chosen_digest(routing, name)
    now = datetime.now(UTC)
    try:
        zone = digest.schedule.timezone
        chosen = IsoWeek.parse(week) if week else IsoWeek.last_full_week(now, zone)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--week") from None
    teams_connected = settings.teams_enabled and settings.microsoft_app_id
    if post and not (settings.slack_enabled or teams_connected):
        err.print("Cannot post: connect Slack or Teams first (see README → Connect to Slack).")
        raise typer.Exit(1)

    async def work(engine: AsyncEngine) -> str:
        from digests.aggregate import WeekNotStarted, build_digest
        from digests.themes.section import WeekThemes
        from storage.digest_reads import SqlDigestReads
        from storage.theme_texts import SqlThemeTexts

        try:
            if post:
                from bot.app.post_digest import post_digest

                return await post_digest(settings, routing, digest, chosen)
            texts = SqlThemeTexts(engine, include_output=routing.privacy.store_output_text)
            weekly = await build_digest(
                SqlDigestReads(engine),
                routing,
                digest,
                chosen,
                now,
                find_themes=WeekThemes(texts),
            )
        except WeekNotStarted as error:
            err.print(escape(str(error)), highlight=False)
            raise typer.Exit(2) from None
        return _render_digest(weekly, output_format)

    result = on_database(settings, work)
    if post:
        out.print(escape(result), highlight=False)
    else:
        typer.echo(result, nl=not result.endswith("\n"))


def _render_digest(weekly: WeeklyDigest, output_format: DigestFormat) -> str:
    if output_format is DigestFormat.json:
        from digests.render_json import render_json

        return render_json(weekly) + "\n"
    if output_format is DigestFormat.html:
        from digests.render_html import render_html

        chart = None
        if not weekly.quiet:
            from digests.chart import render_chart

            chart = render_chart(weekly)
        return render_html(weekly, chart_png=chart)
    from digests.render_markdown import render_markdown

    return render_markdown(weekly)


def demo(
    weeks: Annotated[
        int, typer.Option(min=1, max=52, help="how many full weeks of feedback, up to last week")
    ] = 8,
    yes: Annotated[
        bool, typer.Option("--yes", help="replace the demo data already in the database")
    ] = False,
) -> None:
    """Seed weeks of realistic, clearly marked demo feedback into the local database."""
    from sqlalchemy.exc import SQLAlchemyError

    from digests.demo import DemoSummary, delete_demo, demo_case_count, seed_demo
    from digests.history import ReplayClock
    from storage.connect_errors import upgrade_or_refuse
    from storage.database import create_engine, redact_url
    from storage.demo_data import SqlDemoData
    from storage.repository import SqlCaseStore

    settings = settings_or_exit()
    if settings.env == "production":
        err.print("Refusing to seed demo data with LOOPKEEPER_ENV=production.")
        raise typer.Exit(1)
    routing = routing_or_exit(settings, err)
    timezone = routing.digests[0].schedule.timezone if routing.digests else "UTC"
    shown = redact_url(settings.database_url)
    with refusals():
        upgrade_or_refuse(settings.database_url)

    async def run() -> tuple[int, int, DemoSummary | None]:
        engine = create_engine(settings.database_url, sqlite_fast=settings.sqlite_fast_paths)
        clock = ReplayClock()
        store = SqlCaseStore(engine, clock=clock)
        try:
            existing = await demo_case_count(SqlDemoData(engine))
            if existing and not yes:
                return existing, 0, None
            removed = await delete_demo(SqlDemoData(engine)) if existing else 0
            summary = await seed_demo(
                store, clock, routing, now=datetime.now(UTC), tz=timezone, weeks=weeks
            )
            return existing, removed, summary
        finally:
            await store.close()

    try:
        existing, removed, summary = asyncio.run(run())
    except (OSError, SQLAlchemyError) as error:
        err.print(f"Cannot write demo data to {escape(shown)}: {escape(str(error))}")
        raise typer.Exit(1) from None
    if summary is None:
        err.print(
            f"{escape(shown)} already holds {plural(existing, 'demo case', 'demo cases')}. "
            "Run `loopkeeper demo --yes` to replace them."
        )
        raise typer.Exit(1)
    if removed:
        out.print(f"Removed {plural(removed, 'earlier demo case', 'earlier demo cases')}.")
    out.print(
        f"Seeded {plural(summary.cases, 'demo case', 'demo cases')} with "
        f"{plural(summary.reports, 'report', 'reports')} on "
        f"{plural(summary.systems, 'AI system', 'AI systems')} over "
        f"{plural(weeks, 'week', 'weeks')} ({summary.first_week} to {summary.last_week}) "
        f"into {escape(shown)}. Try: loopkeeper digest",
        highlight=False,
    )
