"""What `check-config` and `serve` say about the webhooks of a routing file that only the
environment can tell: https in production, http only to this machine, the secrets set."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from bot.app.cli_common import err
from bot.config.settings import Settings
from bot.config.webhooks import read_secrets, secret_problems, url_problems
from bot.core.routing_rules import Routing


def check_webhooks(
    routing: Routing, settings: Settings, env_file: Path | None = Path(".env")
) -> int:
    """Print the webhooks' problems for `check-config`; returns how many fail the check. An
    unset secret is only a warning there (the file may be checked where secrets are not),
    but `serve` refuses to start without it."""
    failing = url_problems(routing.webhooks, settings.env)
    for problem in failing:
        err.print(f"[red]✗[/red] {escape(problem)}", highlight=False)
    secrets = read_secrets(routing.webhooks, env_file=env_file)
    for problem in secret_problems(routing.webhooks, secrets, settings.env):
        err.print(
            f"[yellow]![/yellow] {escape(problem)} (serve will refuse to start until it is)",
            highlight=False,
        )
    return len(failing)


def webhook_refusals(
    routing: Routing, settings: Settings, env_file: Path | None = Path(".env")
) -> list[str]:
    """Why `serve` must not start with these webhooks, one line each."""
    secrets = read_secrets(routing.webhooks, env_file=env_file)
    return url_problems(routing.webhooks, settings.env) + secret_problems(
        routing.webhooks, secrets, settings.env
    )


def redact_webhook_secrets(routing: Routing, env_file: Path | None = Path(".env")) -> None:
    """The log redacts the webhooks' secrets as it does Slack's and Teams': they are read from
    variables the routing file names, so only known once it is loaded."""
    from bot.app.logging_setup import redact_also

    redact_also(read_secrets(routing.webhooks, env_file=env_file).values())
