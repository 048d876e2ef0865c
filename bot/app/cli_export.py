"""`loopkeeper export dataset`: flagged cases as an eval dataset, one JSON object per line.

Registered on the main command line by bot/app/cli.py. Cases are read a page at a time
(storage/dataset_rows.py) and each line is written as it is made, so the export runs in
constant memory however many cases there are.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO

import typer
from rich.console import Console

from bot.core.dataset import DatasetQuery, Privacy, StatusFilter, record
from bot.core.dataset_formats import WRITERS, DatasetFormat, write_line

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.core.routing_rules import Routing

export_app = typer.Typer(help="Export flagged cases for other tools.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@dataclass
class Tally:
    written: int = 0
    without_input: int = 0
    reader_gone: bool = False


@export_app.command("dataset")
def export_dataset(
    output_format: Annotated[
        DatasetFormat,
        typer.Option("--format", help="jsonl is loopkeeper's own record; the others import as is"),
    ] = DatasetFormat.jsonl,
    system: Annotated[str | None, typer.Option(help="only cases of this AI system (id)")] = None,
    status: Annotated[
        StatusFilter, typer.Option(help="resolved cases only, or all of them")
    ] = StatusFilter.resolved,
    since: Annotated[
        str | None, typer.Option(help="only cases opened on or after this date (YYYY-MM-DD)")
    ] = None,
    category: Annotated[str | None, typer.Option(help="only cases of this category (id)")] = None,
    include_unlabelled: Annotated[
        bool,
        typer.Option("--include-unlabelled", help="also cases nobody gave an expected answer"),
    ] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write to this file instead of stdout")
    ] = None,
) -> None:
    """Flagged cases as an eval dataset for Langfuse, LangSmith, OpenAI Evals, promptfoo or
    Inspect, one JSON object per line."""
    # bot.app.cli imports this module: its helpers are looked up when the command runs.
    from bot.app.cli_common import on_database, routing_or_exit, settings_or_exit

    settings = settings_or_exit()
    routing = routing_or_exit(settings, err)
    _check_known(routing, system, category)
    query = DatasetQuery(
        system=system,
        category=category,
        status=status,
        since=_since(since),
        include_unlabelled=include_unlabelled,
    )
    privacy = Privacy(
        store_output_text=routing.privacy.store_output_text,
        redact=tuple(routing.privacy.redact),
    )
    tally = Tally()
    with _opened(out_file) as sink:

        async def export(engine: AsyncEngine) -> None:
            from storage.dataset_rows import DatasetRows

            writer = WRITERS[output_format]
            async for found in DatasetRows(engine, query):
                line = writer(record(found, privacy))
                if line is None:
                    tally.without_input += 1
                    continue
                try:
                    write_line(line, sink)
                except BrokenPipeError:  # the reader went away (`| head`): nothing to say
                    tally.reader_gone = True
                    return
                except OSError as error:  # a full disk, say: not the database's fault
                    _refuse(f"Cannot write {out_file or 'stdout'}: {error.strerror or error}")
                tally.written += 1

        on_database(settings, export)
    if tally.reader_gone:
        # Python would report the pipe's last flush failing at exit: point it at devnull
        # (the way the Python docs' "Note on SIGPIPE" does).
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    _summarise(tally, output_format, out_file)


def _check_known(routing: Routing, system: str | None, category: str | None) -> None:
    if system is not None and routing.system(system) is None:
        known = ", ".join(s.id for s in routing.systems)
        _refuse(f"--system: no AI system '{system}' in the routing file; one of: {known}")
    if category is not None and routing.category(category) is None:
        known = ", ".join(c.id for c in routing.categories)
        _refuse(f"--category: no category '{category}' in the routing file; one of: {known}")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        _refuse(f"--since: '{value}' is not a date; give it as YYYY-MM-DD")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@contextlib.contextmanager
def _opened(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        sink = path.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        _refuse(f"--out: cannot write {path}: {error.strerror or error}")
    with sink:
        yield sink


def _summarise(tally: Tally, output_format: DatasetFormat, out_file: Path | None) -> None:
    where = f" to {out_file}" if out_file else ""
    err.print(f"{tally.written} case(s) exported as {output_format.value}{where}.", highlight=False)
    if tally.without_input:
        err.print(
            f"{tally.without_input} case(s) left out: no input was captured, and "
            f"{output_format.value} needs one to run the model on.",
            highlight=False,
        )


def _refuse(line: str) -> NoReturn:
    err.print(line, highlight=False, markup=False)
    raise typer.Exit(1)
