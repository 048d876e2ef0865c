"""What `loopkeeper serve` says: the environment it reads (its --help), the connections it
made, and why it will not start, in one line.

Used by bot/app/cli.py. The refusal is one line on stderr and exit code 1, never a traceback:
whoever meets it is setting the bot up, and a page of frames hides the sentence they need.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from bot.app.startup_errors import StartupError
from bot.config.settings import Settings

# The process's one pair of consoles (bot/app/cli.py prints through them too): in JSON log mode
# `out` is redirected to the log, so every line the process writes is one JSON object.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

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
