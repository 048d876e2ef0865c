"""`loopkeeper check-config` and `loopkeeper init`: check a routing file, or write the example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.app.cli_common import err, example_text, out, print_problems, settings_or_exit
from bot.app.cli_webhooks import check_webhooks
from bot.config.errors import RoutingError
from bot.config.loading import load_routing


def check_config(
    path: Annotated[
        Path | None, typer.Argument(help="routing file (default: $LOOPKEEPER_CONFIG)")
    ] = None,
) -> None:
    """Validate a routing file; print every problem with its location; exit 1 on any."""
    target = path or settings_or_exit().config_path
    try:
        routing = load_routing(target)
    except RoutingError as error:
        print_problems(error.problems)
        err.print(f"{len(error.problems)} problem(s) in {target}")
        raise typer.Exit(1) from None
    if failing := check_webhooks(routing, settings_or_exit()):
        err.print(f"{failing} problem(s) in {target} for LOOPKEEPER_ENV={settings_or_exit().env}")
        raise typer.Exit(1)
    out.print(
        f"[green]✓[/green] {target}: {len(routing.systems)} system(s), "
        f"{len(routing.categories)} categories, {len(routing.people)} people"
    )


def init(
    path: Annotated[Path, typer.Argument(help="where to write the example")] = Path("routing.yaml"),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented example routing file to edit."""
    if path.exists() and not force:
        err.print(f"{path} already exists; use --force to overwrite it")
        raise typer.Exit(1)
    path.write_text(example_text(), encoding="utf-8")
    out.print(f"Wrote {path}. Edit it, then check it with: loopkeeper check-config {path}")
