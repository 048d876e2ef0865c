"""`loopkeeper versions`: reports per prompt version and model, with regressions called out.

Registered on the main command line by bot/app/cli.py.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.app.cli_common import err, out, refuse
from digests.week import IsoWeek

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from digests.model import VersionRow, WeeklyDigest


class VersionFormat(enum.StrEnum):
    table = "table"
    json = "json"


def list_versions(
    system: Annotated[str | None, typer.Option(help="only this AI system (id)")] = None,
    output_format: Annotated[
        VersionFormat, typer.Option("--format", help="table for people; json for tools")
    ] = VersionFormat.table,
    week: Annotated[
        str | None,
        typer.Option(
            help="ISO week, e.g. 2026-W07 (default: the last full week in the digest's time zone)"
        ),
    ] = None,
) -> None:
    """Reports per prompt version and model over 8 weeks, with regressions called out."""
    from bot.app.cli_common import on_database, routing_or_exit, settings_or_exit
    from bot.app.cli_digest import chosen_digest
    from digests.aggregate import WeekNotStarted, build_digest
    from storage.digest_reads import SqlDigestReads

    settings = settings_or_exit()
    routing = routing_or_exit(settings, err)
    digest = chosen_digest(routing, None)
    now = datetime.now(UTC)
    try:
        chosen = (
            IsoWeek.parse(week) if week else IsoWeek.last_full_week(now, digest.schedule.timezone)
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--week") from None
    if system is not None:
        known = [s.id for s in routing.systems]
        if system not in known:
            refuse(f"No AI system '{system}' in the routing file (systems: {', '.join(known)}).")
        digest = digest.model_copy(update={"systems": [system]})

    async def work(engine: AsyncEngine) -> WeeklyDigest:
        try:
            return await build_digest(SqlDigestReads(engine), routing, digest, chosen, now)
        except WeekNotStarted as error:
            refuse(str(error))

    weekly = on_database(settings, work)
    if output_format is VersionFormat.json:
        document = {
            "week": str(chosen),
            "so_far": weekly.so_far,
            "versions": [v.model_dump(mode="json") for v in weekly.versions],
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    so_far = ", so far" if weekly.so_far else ""
    out.print(Text(f"Prompt versions and models · {chosen} ({weekly.week.label}{so_far})", "bold"))
    if not weekly.versions:
        out.print(
            f"No reports with a prompt version or model in the 8 weeks to {chosen}: the AI app "
            "sends them in Slack message metadata or the ingest API."
        )
        return
    for row in weekly.versions:
        if row.regression:
            out.print(Text(f"⚠ {row.regression}", style="bold red"))
    _print_table(weekly.versions)


def _print_table(rows: list[VersionRow]) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for heading in ("System", "Prompt", "Model"):
        table.add_column(heading)
    for heading in ("This week", "Last week", "8 weeks", "Per day", "Per 1k outputs"):
        table.add_column(heading, justify="right")
    table.add_column("Before it")
    for r in rows:
        cells = (
            r.system_id,
            r.prompt_version or "—",
            r.model or "—",
            str(r.reports),
            str(r.previous),
            " ".join(str(n) for n in r.series),
            f"{r.rate:.2f}",
            "—" if r.rate_per_1k is None else f"{r.rate_per_1k:.2f}",
            r.predecessor or "—",
        )
        table.add_row(*(Text(cell) for cell in cells))
    # Piped or redirected output is not cut to 80 columns.
    console = out if out.is_terminal else Console(width=1000)
    console.print(table)
