"""`loopkeeper teams-package`: the Teams app package (manifest.json + icons) to upload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bot.app.cli_common import err, out, settings_or_exit


def teams_package(
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", help="Microsoft app id of the bot (default: $MICROSOFT_APP_ID)"),
    ] = None,
    out_path: Annotated[
        Path, typer.Option("--out", help="where to write the zip (default: ./loopkeeper-teams.zip)")
    ] = Path("loopkeeper-teams.zip"),
) -> None:
    """Write the Teams app package (manifest.json + icons) with the bot's app id filled in."""
    from handlers.teams.app_package import is_app_id, write_package

    chosen = app_id or settings_or_exit().microsoft_app_id
    if not chosen:
        err.print(
            "No app id: pass --app-id or set MICROSOFT_APP_ID to the bot's Microsoft app id "
            "(Azure Bot → Configuration). See deploy/teams/README.md."
        )
        raise typer.Exit(1)
    if not is_app_id(chosen):
        err.print(f"'{escape(chosen)}' is not a Microsoft app id: it must be a GUID.")
        raise typer.Exit(1)
    written = write_package(chosen, out_path)
    out.print(
        f"Wrote {escape(str(written))} for app {chosen}. Upload it in Teams: "
        "Apps → Manage your apps → Upload an app.",
        highlight=False,
    )
