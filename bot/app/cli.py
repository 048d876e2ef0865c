"""The `loopkeeper` command line: the root command and where each command group is registered.

Each group lives in its own module, `bot/app/cli_<name>.py`, and is registered below with one
line; commands list in --help in the order they are registered here, then the groups.
"""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from bot.app.cli_cases import list_cases
from bot.app.cli_config import check_config, init
from bot.app.cli_db import audit_app, db_app
from bot.app.cli_digest import demo, digest_command
from bot.app.cli_export import export_app
from bot.app.cli_queues import inbox_app, outbox_app
from bot.app.cli_serve import environment_help, serve
from bot.app.cli_teams import teams_package
from bot.app.cli_themes import list_themes
from bot.app.cli_versions import list_versions

app = typer.Typer(
    help="loopkeeper: flag bad AI outputs in chat, route them to their owners, close the loop.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: typer's rich panels print `<bool>` after every flag.
    rich_markup_mode=None,
)


def _show_version(wanted: bool) -> None:
    if not wanted:
        return
    try:
        version = metadata.version("loopkeeper")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown (not installed)"
    typer.echo(f"loopkeeper {version}")
    raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="print the version"),
    ] = False,
) -> None:
    pass


app.command("check-config")(check_config)
app.command()(init)
app.command(epilog=environment_help())(serve)
app.command("cases")(list_cases)
app.command("digest")(digest_command)
app.command()(demo)
app.command("themes")(list_themes)  # bot/app/cli_themes.py
app.command("versions")(list_versions)  # bot/app/cli_versions.py
app.command("teams-package")(teams_package)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")
app.add_typer(inbox_app, name="inbox")
app.add_typer(export_app, name="export")


def main() -> None:
    app()
