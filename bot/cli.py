"""The `loopkeeper` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.routing import Routing, RoutingError, load_routing
from bot.settings import Settings

app = typer.Typer(
    help="loopkeeper: flag bad AI outputs in chat, route them to their owners, close the loop.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)

EXAMPLE_ROUTING = "routing.example.yaml"


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "settings"
            err.print(f"[red]environment[/red] {where}: {problem['msg']}")
        raise typer.Exit(1) from None


def _example_text() -> str:
    return resources.files("bot").joinpath(EXAMPLE_ROUTING).read_text(encoding="utf-8")


def _print_problems(problems: list[str]) -> None:
    for problem in problems:
        err.print(f"[red]✗[/red] {escape(problem)}", highlight=False)


@app.command("check-config")
def check_config(
    path: Annotated[
        Path | None, typer.Argument(help="routing file (default: $LOOPKEEPER_CONFIG)")
    ] = None,
) -> None:
    """Validate a routing file; print every problem with its location; exit 1 on any."""
    target = path or _settings().config_path
    try:
        routing = load_routing(target)
    except RoutingError as error:
        _print_problems(error.problems)
        err.print(f"{len(error.problems)} problem(s) in {target}")
        raise typer.Exit(1) from None
    out.print(
        f"[green]✓[/green] {target}: {len(routing.systems)} system(s), "
        f"{len(routing.categories)} categories, {len(routing.people)} people"
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the example")] = Path("routing.yaml"),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented example routing file to edit."""
    if path.exists() and not force:
        err.print(f"{path} already exists; use --force to overwrite it")
        raise typer.Exit(1)
    path.write_text(_example_text(), encoding="utf-8")
    out.print(f"Wrote {path}. Edit it, then check it with: loopkeeper check-config {path}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (Alembic)."""
    from storage.database import redact_url
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    out.print(f"Database {redact_url(settings.database_url)} is up to date.")


def _load_routing_for_serve(settings: Settings) -> Routing:
    path = settings.config_path
    if not path.exists():
        if settings.env == "production":
            err.print(f"No routing file at {path}: set LOOPKEEPER_CONFIG or run `loopkeeper init`.")
            raise typer.Exit(1)
        out.print(
            f"[yellow]No routing file at {path}[/yellow]: running on the built-in example. "
            f"Run `loopkeeper init` to write it to {path} and edit it, or set LOOPKEEPER_CONFIG."
        )
        from bot.routing import parse_routing

        return parse_routing(_example_text(), f"<built-in {EXAMPLE_ROUTING}>")
    try:
        return load_routing(path)
    except RoutingError as error:
        _print_problems(error.problems)
        err.print(f"Refusing to start: {len(error.problems)} problem(s) in {path}")
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
) -> None:
    """Run the bot: HTTP routes, Slack (HTTP or Socket Mode), the outbox. Migrates first."""
    settings = _settings()
    if host is not None:
        settings = settings.model_copy(update={"host": host})
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    problems = settings.problems()
    if problems:
        _print_problems(problems)
        err.print(f"Refusing to start in {settings.env} mode.")
        raise typer.Exit(1)
    routing = _load_routing_for_serve(settings)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from storage.database import redact_url
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    out.print(f"Database {redact_url(settings.database_url)} migrated.")
    asyncio.run(_serve(settings, routing))


async def _serve(settings: Settings, routing: Routing) -> None:
    from aiohttp import web

    from bot.main import build_runtime

    runtime = await build_runtime(settings, routing)
    runner = web.AppRunner(runtime.web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    await runtime.start_background()
    base = f"http://{settings.host}:{settings.port}"
    out.print(f"loopkeeper is listening on {base} ({len(routing.systems)} AI system(s) routed)")
    _describe_connections(settings, base)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        out.print("Shutting down…")
        await runner.cleanup()
        await runtime.close()


def _describe_connections(settings: Settings, base: str) -> None:
    if settings.slack_socket_mode:
        out.print("Slack: connected over Socket Mode.")
    elif settings.slack_http_enabled:
        out.print(f"Slack: Events API at {base}/slack/events (signature-verified).")
    else:
        out.print(
            "Slack: off. To connect a workspace, set SLACK_BOT_TOKEN plus either "
            "SLACK_SIGNING_SECRET (Request URL: https://<public host>/slack/events) or "
            "SLACK_APP_TOKEN (Socket Mode, no public URL needed). See README → Connect to Slack."
        )
    if settings.ingest_token:
        out.print(f"Ingest API: POST {base}/api/v1/reports (bearer token).")
    else:
        out.print("Ingest API: off (set LOOPKEEPER_INGEST_TOKEN to accept forwarded thumbs-downs).")
    out.print(f"Health: {base}/healthz · readiness: {base}/readyz · metrics: {base}/metrics")


def main() -> None:
    app()
