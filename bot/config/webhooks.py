"""Checks of the `webhooks:` section that need more than the section: the systems it names, the
environment it runs in (https in production), and the secrets it names being set.

The schema itself is `bot/core/webhook_rules.py`; `check-config` and `serve` call these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.core.webhook_rules import Webhook

MIN_SECRET_IN_PRODUCTION = 24
"""Characters: a shorter signing secret can be guessed offline from one signed delivery."""


def url_problems(webhooks: Sequence[Webhook], env: str) -> list[str]:
    """Receivers the environment does not allow: plain http in production, or in development
    to another machine (the events and their signatures would cross the network in clear)."""
    problems: list[str] = []
    for i, hook in enumerate(webhooks):
        if hook.url.startswith("https://"):
            continue
        if env == "production":
            problems.append(f"webhooks[{i}].url: must use https in production")
        elif not hook.is_local:
            problems.append(
                f"webhooks[{i}].url: plain http is only allowed to this machine (localhost); "
                "use https"
            )
    return problems


def read_secrets(
    webhooks: Sequence[Webhook],
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
) -> dict[str, str]:
    """Each webhook's secret by its URL, from the environment or else the .env file (as the
    settings are read); a variable that is unset or empty is left out."""
    environ = os.environ if environ is None else environ
    from_file = _dotenv(env_file)
    found: dict[str, str] = {}
    for hook in webhooks:
        value = environ.get(hook.secret_env) or from_file.get(hook.secret_env) or ""
        if value:
            found[hook.url] = value
    return found


def secret_problems(webhooks: Sequence[Webhook], secrets: Mapping[str, str], env: str) -> list[str]:
    """Webhooks whose secret is unset (or, in production, too short), one line each."""
    problems: list[str] = []
    for i, hook in enumerate(webhooks):
        secret = secrets.get(hook.url)
        if not secret:
            problems.append(
                f"webhooks[{i}].secret_env: {hook.secret_env} is not set: set it to the secret "
                "the receiver verifies signatures with"
            )
        elif env == "production" and len(secret) < MIN_SECRET_IN_PRODUCTION:
            problems.append(
                f"webhooks[{i}].secret_env: {hook.secret_env} must be at least "
                f"{MIN_SECRET_IN_PRODUCTION} characters in production"
            )
    return problems


def _dotenv(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    from dotenv import dotenv_values  # pydantic-settings reads .env with it too

    return {k: v for k, v in dotenv_values(path).items() if v}
