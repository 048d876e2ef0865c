"""`loopkeeper themes`: the week's recurring themes across cases, as a table or JSON.

Registered on the main command line by bot/app/cli.py. Themes are computed on this machine
(digests/themes): no report text leaves it.
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
from bot.core.routing_rules import Routing
from digests.text import join_names, trend
from digests.week import IsoWeek

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from digests.model import Theme


class ThemeFormat(enum.StrEnum):
    table = "table"
    json = "json"


def chosen_week(text: str | None, tz: str, now: datetime) -> IsoWeek:
    """The week asked for (default: the last full one); one line and exit 1 for a future one."""
    try:
        week = IsoWeek.parse(text) if text else IsoWeek.last_full_week(now, tz)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--week") from None
    if week.start_utc(tz) > now:
        current = IsoWeek.containing(now, tz)
        refuse(f"{week} has not started yet: pick {current} (so far) or an earlier week.")
    return week


def list_themes(
    week: Annotated[
        str | None,
        typer.Option(
            help="ISO week, e.g. 2026-W07 (default: the last full week in the digest's time zone)"
        ),
    ] = None,
    system: Annotated[str | None, typer.Option(help="only reports on this AI system (id)")] = None,
    output_format: Annotated[
        ThemeFormat, typer.Option("--format", help="table for people; json for tools")
    ] = ThemeFormat.table,
) -> None:
    """The week's recurring themes across cases (local model, nothing leaves the machine)."""
    # bot.app.cli imports this module: its helpers are looked up when the command runs.
    from bot.app.cli_common import on_database, routing_or_exit, settings_or_exit
    from digests.themes.embedder import load_embedder
    from digests.themes.section import themes_for_week
    from storage.theme_texts import SqlThemeTexts

    settings = settings_or_exit()
    routing = routing_or_exit(settings, err)
    tz = routing.digests[0].schedule.timezone if routing.digests else "UTC"
    now = datetime.now(UTC)
    chosen = chosen_week(week, tz, now)
    known = [s.id for s in routing.systems]
    if system is not None and system not in known:
        refuse(f"No AI system '{system}' in the routing file (systems: {', '.join(known)}).")
    embedder = load_embedder()

    async def work(engine: AsyncEngine) -> list[Theme]:
        source = SqlThemeTexts(engine, include_output=routing.privacy.store_output_text)
        systems = [system] if system else None
        return await themes_for_week(source, chosen, systems, tz=tz, now=now, embedder=embedder)

    themes = on_database(settings, work)
    so_far = chosen.end_utc(tz) > now
    if output_format is ThemeFormat.json:
        document = {
            "week": str(chosen),
            "so_far": so_far,
            "themes": [theme.model_dump(mode="json") for theme in themes],
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    heading = f"Recurring themes · {chosen} ({chosen.label()}{', so far' if so_far else ''})"
    out.print(Text(heading, style="bold"))
    if not themes:
        out.print(f"No recurring themes in {chosen}: no complaint came up on two cases or more.")
        return
    _print_table(themes, routing)
    out.print(
        Text(f"Grouped on this machine ({embedder.name}); no report text left it.", style="dim")
    )


def _print_table(themes: list[Theme], routing: Routing) -> None:
    names = {s.id: s.name for s in routing.systems}
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Theme")
    for heading in ("Reports", "Cases"):
        table.add_column(heading, justify="right")
    for heading in ("Last week", "Systems", "Categories", "Top cases"):
        table.add_column(heading)
    for theme in themes:
        cells = (
            theme.label,
            str(theme.reports),
            str(theme.cases),
            trend(theme.change),
            join_names([names.get(s, s) for s in theme.systems]),
            ", ".join(theme.categories),
            ", ".join(f"#{n}" for n in theme.case_numbers),
        )
        table.add_row(*(Text(cell) for cell in cells))
    # Piped or redirected output is not cut to 80 columns.
    console = out if out.is_terminal else Console(width=1000)
    console.print(table)
