"""`loopkeeper serve`, and what it says: the environment it reads (its --help), the connections
it made, and why it will not start, in one line.

The command migrates the database first, then runs the bot until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.markup import escape

from bot.app.cli_common import (
    err,
    out,
    refusals,
    routing_or_exit,
    settings_or_exit,
    start_logging,
)
from bot.app.cli_webhooks import redact_webhook_secrets, webhook_refusals
from bot.config.settings import Settings
from bot.core.routing_rules import Routing
from bot.core.startup_errors import StartupError

PORT_HINT = "choose another with --port or LOOPKEEPER_PORT"


def environment_help() -> str:
    """The variables `serve` reads, with their defaults, for its --help (from Settings, so a
    setting added there is listed here)."""
    rows: list[tuple[str, str, str | None]] = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if not choices:
            continue
        default = field.default
        shown = "unset" if default is None else str(default)
        rows.append((str(choices[0]), shown, field.description))
    width = max(len(name) for name, _, _ in rows)
    lines = [
        f"  {name.ljust(width)}  [default: {shown}]" + (f": {what}" if what else "")
        for name, shown, what in rows
    ]
    # \b: click prints the paragraph as is instead of re-wrapping it into one.
    return (
        "\b\nEnvironment (a .env file is read too; an empty variable means unset):\n"
        + "\n".join(lines)
    )


def check_port(port: int) -> None:
    # Port 0 is a free port the system picks (tests use it).
    if not 0 <= port <= 65535:
        raise StartupError(f"Port {port} does not exist: {PORT_HINT} (1-65535).")


def cannot_listen(host: str, port: int, error: OSError) -> StartupError:
    """The bind failed: in use, no such address, no privilege or an unknown host."""
    where = f"{host}:{port}"
    if isinstance(error, socket.gaierror):
        why = f"unknown host {host!r}; check --host or LOOPKEEPER_HOST"
    elif error.errno == errno.EADDRINUSE:
        why = f"the port is in use (another loopkeeper, or another program): {PORT_HINT}"
    elif error.errno == errno.EADDRNOTAVAIL:
        why = "this machine has no such address: check --host or LOOPKEEPER_HOST"
    elif error.errno == errno.EACCES:
        why = f"permission denied (ports below 1024 need privileges): {PORT_HINT}"
    else:
        why = error.strerror or str(error)
    return StartupError(f"Cannot listen on {where}: {why}.")


def describe_connections(settings: Settings, base: str) -> None:
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
    if not settings.teams_enabled:
        out.print("Teams: off (LOOPKEEPER_TEAMS=off).")
    elif settings.teams_emulator_mode:
        out.print(
            f"Teams: local emulator mode at {base}/api/messages (no MICROSOFT_APP_ID: "
            "unauthenticated, loopback clients only). See deploy/teams/README.md."
        )
    else:
        out.print(f"Teams: Bot Framework messages at {base}/api/messages (tokens checked).")
    if settings.ingest_token:
        out.print(f"Ingest API: POST {base}/api/v1/reports (bearer token).")
    else:
        out.print("Ingest API: off (set LOOPKEEPER_INGEST_TOKEN to accept forwarded thumbs-downs).")
    out.print(f"Health: {base}/healthz · readiness: {base}/readyz · metrics: {base}/metrics")


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            metavar="HOST", help="listen address, instead of LOOPKEEPER_HOST  [default: 127.0.0.1]"
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT", help="listen port, instead of LOOPKEEPER_PORT  [default: 3000]"
        ),
    ] = None,
) -> None:
    """Run the bot: HTTP routes, Slack (HTTP or Socket Mode), the outbox. Migrates first."""
    settings = settings_or_exit()
    if host is not None:
        settings = settings.model_copy(update={"host": host})
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    with refusals():
        check_port(settings.port)
    problems = settings.problems()
    for problem in problems:  # one line each, all of them at once
        err.print(f"Refusing to start in {settings.env} mode: {escape(problem)}.", highlight=False)
    if problems:
        raise typer.Exit(1)
    start_logging(settings)
    routing = routing_or_exit(settings, out, refusal="Refusing to start: ")
    redact_webhook_secrets(routing)
    for problem in (refused := webhook_refusals(routing, settings)):
        err.print(f"Refusing to start in {settings.env} mode: {escape(problem)}.", highlight=False)
    if refused:
        raise typer.Exit(1)
    with refusals(), _only_process(settings.database_url):
        _migrate_and_serve(settings, routing)


@contextlib.contextmanager
def _only_process(url: str) -> Iterator[None]:
    """SQLite: this process alone, for as long as it serves (bot.app.single_process)."""
    from bot.app.single_process import only_process
    from storage.database import sqlite_file

    database = sqlite_file(url)
    if database is None:
        yield
        return
    with only_process(database):
        yield


def _migrate_and_serve(settings: Settings, routing: Routing) -> None:
    from storage.connect_errors import upgrade_or_refuse
    from storage.database import redact_url

    upgrade_or_refuse(settings.database_url)
    out.print(f"Database {redact_url(settings.database_url)} migrated.")
    asyncio.run(_serve(settings, routing))


async def _serve(settings: Settings, routing: Routing) -> None:
    from aiohttp import web

    from bot.app.heap import freeze_startup_heap
    from bot.app.main import build_runtime
    from handlers.request_context import access_log_options

    runtime = await build_runtime(settings, routing)
    runner = web.AppRunner(runtime.web_app, **access_log_options(settings.access_log == "on"))
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        await runtime.close()
        raise cannot_listen(settings.host, settings.port, error) from None
    try:
        await runtime.start_background()
    except StartupError:  # Slack refused SLACK_APP_TOKEN: close what was opened, then say so
        await runner.cleanup()
        await runtime.close()
        raise
    freeze_startup_heap()
    base = f"http://{settings.host}:{settings.port}"
    out.print(f"loopkeeper is listening on {base} ({len(routing.systems)} AI system(s) routed)")
    describe_connections(settings, base)
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
