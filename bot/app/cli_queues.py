"""`loopkeeper outbox` and `loopkeeper inbox`: what waits, what is dead-lettered, send it again.

Registered on the main command line by bot/app/cli.py. A dead letter is a message (or an inbound
flag) the bot stopped trying: Slack refused it for good, or it failed every attempt. Retrying
gives it a fresh set of attempts, due now; a running bot picks it up on its next tick.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.app.cli_common import err, on_database, out, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from storage.queues import Queued, SqlQueues

outbox_app = typer.Typer(
    help="Outbound messages waiting to be sent, or dead-lettered; `retry` sends them again.",
    no_args_is_help=False,
)
inbox_app = typer.Typer(
    help="Inbound flags waiting to be filed, or dead-lettered; `retry` files them again.",
    no_args_is_help=False,
)


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


DeadOption = Annotated[bool, typer.Option("--dead", help="the dead letters, not what waits")]
FormatOption = Annotated[ListFormat, typer.Option("--format", help="table, or json to script")]
IdsArgument = Annotated[list[int] | None, typer.Argument(help="ids, as listed", show_default=False)]
AllDeadOption = Annotated[bool, typer.Option("--all-dead", help="every dead letter")]


@outbox_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context, dead: DeadOption = False, output: FormatOption = ListFormat.table
) -> None:
    """List undelivered outbound messages (oldest first), or with --dead the dead letters."""
    if ctx.invoked_subcommand is None:
        _list("outbox", dead, output)


@outbox_app.command("retry")
def outbox_retry(ids: IdsArgument = None, all_dead: AllDeadOption = False) -> None:
    """Send messages again: these ids, or --all-dead."""
    _retry("outbox", ids, all_dead)


@inbox_app.callback(invoke_without_command=True)
def inbox(
    ctx: typer.Context, dead: DeadOption = False, output: FormatOption = ListFormat.table
) -> None:
    """List inbound flags not filed yet (oldest first), or with --dead the dead letters."""
    if ctx.invoked_subcommand is None:
        _list("inbox", dead, output)


@inbox_app.command("retry")
def inbox_retry(ids: IdsArgument = None, all_dead: AllDeadOption = False) -> None:
    """File flags again: these ids, or --all-dead."""
    _retry("inbox", ids, all_dead)


def _run(work: Callable[[SqlQueues], Awaitable[Any]]) -> Any:
    from storage.queues import SqlQueues

    async def on(engine: AsyncEngine) -> Any:
        return await work(SqlQueues(engine))

    return on_database(settings_or_exit(), on)


def _list(queue: str, dead: bool, output: ListFormat) -> None:
    async def read(queues: SqlQueues) -> list[Queued]:
        return await (queues.outbox(dead=dead) if queue == "outbox" else queues.inbox(dead=dead))

    found: list[Queued] = _run(read)
    if output is ListFormat.json:
        typer.echo(json.dumps([_record(item) for item in found], indent=2, ensure_ascii=False))
        return
    what = "dead letters" if dead else "waiting"
    if not found:
        out.print(f"{queue}: no dead letters." if dead else f"{queue}: nothing waiting.")
        return
    table = Table(show_edge=False, pad_edge=False, title=f"{queue}: {what}")
    table.add_column("Id", justify="right")
    table.add_column("Method" if queue == "outbox" else "Kind")
    table.add_column("Attempts", justify="right")
    table.add_column("Dead since (UTC)" if dead else "Next try (UTC)", no_wrap=True)
    table.add_column("Last error")
    now = datetime.now(UTC)
    for item in found:
        kind = f"{item.platform}: {item.kind}" if item.platform else item.kind
        when = item.dead_at if dead else item.next_try
        shown = "now" if when is None or when <= now else _time(when)
        table.add_row(
            str(item.id),
            Text(kind),
            str(item.attempts),
            _time(when) if dead else shown,
            Text(item.last_error or "—"),
        )
    # Piped or redirected output is not cut to 80 columns.
    (out if out.is_terminal else Console(width=1000)).print(table)
    if not dead:
        return
    out.print(f"Send them again with `loopkeeper {queue} retry --all-dead` (or ids).")


def _retry(queue: str, ids: list[int] | None, all_dead: bool) -> None:
    if bool(ids) == all_dead:
        err.print(f"Name the ids to retry, or --all-dead (see `loopkeeper {queue} --dead`).")
        raise typer.Exit(2)
    chosen = None if all_dead else ids

    async def reset(queues: SqlQueues) -> list[int]:
        if queue == "outbox":
            return await queues.retry_outbox(chosen)
        return await queues.retry_inbox(chosen)

    done: list[int] = _run(reset)
    verb = "sent again" if queue == "outbox" else "filed again"
    if done:
        out.print(f"{len(done)} {queue} item(s) will be {verb}: {', '.join(map(str, done))}.")
    missing = sorted(set(ids or ()) - set(done))
    if missing:
        err.print(
            f"Not in the {queue} (or already done): {', '.join(map(str, missing))}.",
            highlight=False,
        )
        raise typer.Exit(1)
    if not done:
        out.print(f"{queue}: no dead letters to retry.")


def _time(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _record(item: Queued) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(UTC).isoformat()

    return {
        "id": item.id,
        "kind": item.kind,
        "platform": item.platform,
        "attempts": item.attempts,
        "next_try": iso(item.next_try),
        "last_error": item.last_error,
        "dead_at": iso(item.dead_at),
        "created_at": iso(item.created_at),
    }
