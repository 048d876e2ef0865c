"""What every `loopkeeper` command shares: the process's two consoles, the one-line refusal,
the settings and routing file read or refused, and a migrated database to work on.

A problem the person running a command can fix is one line on stderr and exit code 1, never a
traceback: a page of frames hides the sentence they need.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.config.errors import RoutingError
from bot.config.loading import load_routing, parse_routing
from bot.config.settings import Settings
from bot.core.routing_rules import Routing
from bot.core.startup_errors import StartupError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

# The process's one pair of consoles: in JSON log mode `out` is redirected to the log, so every
# line the process writes is one JSON object.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXAMPLE_ROUTING = "routing.example.yaml"


def refuse(line: str) -> NoReturn:
    err.print(escape(line), highlight=False)
    raise typer.Exit(1)


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """A StartupError raised in the block becomes its one line and exit code 1."""
    try:
        yield
    except StartupError as error:
        refuse(str(error))


def settings_or_exit() -> Settings:
    """The settings from the environment and `.env`, or one line per problem and exit 1."""
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "settings"
            err.print(f"{where}: {problem['msg']}: fix it in the environment or .env.")
        raise typer.Exit(1) from None


def start_logging(settings: Settings) -> None:
    from bot.app.logging_setup import configure_logging, console_to_log

    configure_logging(settings)
    if settings.log_format == "json":  # the start-up lines too: every line one JSON object
        console_to_log(out)


def example_text() -> str:
    return resources.files("bot.config").joinpath(EXAMPLE_ROUTING).read_text(encoding="utf-8")


def print_problems(problems: list[str]) -> None:
    for problem in problems:
        err.print(f"[red]✗[/red] {escape(problem)}", highlight=False)


def routing_or_exit(settings: Settings, notice: Console, *, refusal: str = "") -> Routing:
    """The routing file, or in development the built-in example when there is none; the
    notice saying so goes to `notice` (stderr where stdout carries rendered output)."""
    path = settings.config_path
    if not path.exists():
        if "config_path" in settings.model_fields_set:  # named, not the default: a typo
            refuse(
                f"{refusal}LOOPKEEPER_CONFIG names {path}, which does not exist: fix the path, "
                f"or write the file with `loopkeeper init {path}`."
            )
        if settings.env == "production":
            err.print(f"No routing file at {path}: set LOOPKEEPER_CONFIG or run `loopkeeper init`.")
            raise typer.Exit(1)
        notice.print(
            f"[yellow]No routing file at {path}[/yellow]: running on the built-in example. "
            f"Run `loopkeeper init` to write it to {path} and edit it, or set LOOPKEEPER_CONFIG."
        )
        return parse_routing(example_text(), f"<built-in {EXAMPLE_ROUTING}>")
    try:
        return load_routing(path)
    except RoutingError as error:
        print_problems(error.problems)
        err.print(f"{refusal}{len(error.problems)} problem(s) in {path}")
        raise typer.Exit(1) from None


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def on_database(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on a migrated database; a missing or outdated one is an error, not a trace."""
    url = settings.database_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.connect_errors import explain_failure, url_problem
    from storage.database import create_engine, redact_url, sqlite_file
    from storage.migrate import current_revision, head_revision

    problem = url_problem(url)
    if problem is not None:
        refuse(problem)
    shown = redact_url(url)
    file = sqlite_file(url)
    if file is not None and not file.exists():
        refuse(f"No database at {shown}: check LOOPKEEPER_DATABASE_URL.")

    async def run() -> T:
        engine = create_engine(url, sqlite_fast=settings.sqlite_fast_paths)
        try:
            revision = await current_revision(engine)
            if revision != head_revision():
                at = f"is at revision {revision}" if revision else "has no loopkeeper tables"
                err.print(
                    f"Database {escape(shown)} {at}; this loopkeeper needs {head_revision()}. "
                    "Run `loopkeeper db upgrade`."
                )
                raise typer.Exit(1)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, SQLAlchemyError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        refuse(explain_failure(error, url) or f"Cannot read database {shown}: {first}")
