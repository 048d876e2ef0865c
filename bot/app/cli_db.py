"""`loopkeeper db upgrade` and `loopkeeper audit verify`: the database's schema and its
timelines' hash chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from bot.app.cli_common import (
    err,
    on_database,
    out,
    plural,
    refusals,
    settings_or_exit,
    start_logging,
)

if TYPE_CHECKING:
    from storage.audit import AuditResult

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit trail checks.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (Alembic)."""
    from storage.connect_errors import upgrade_or_refuse
    from storage.database import redact_url

    settings = settings_or_exit()
    start_logging(settings)  # run as a deploy step (a Helm hook): its lines go to the same log
    with refusals():
        upgrade_or_refuse(settings.database_url)
    out.print(f"Database {redact_url(settings.database_url)} is up to date.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain of every case's timeline; exit 1 if any entry was altered."""
    from storage.audit import verify_chain

    result: AuditResult = on_database(settings_or_exit(), verify_chain)
    if result.first_broken is None:
        out.print(
            f"[green]✓[/green] {plural(result.entries, 'timeline entry', 'timeline entries')} "
            f"in {plural(result.cases, 'case', 'cases')} verified",
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print(
        f"[red]✗[/red] {escape(result.first_broken.describe())}", highlight=False, soft_wrap=True
    )
    err.print(
        f"{result.broken} of {plural(result.entries, 'timeline entry', 'timeline entries')} "
        f"in {plural(result.cases, 'case', 'cases')} failed verification.",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)
