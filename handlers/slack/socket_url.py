"""Asking Slack for a Socket Mode URL (`apps.connections.open`): a refused token stops, a
network fault is asked again with growing pauses.

The SDK asks once per connection attempt and, whatever the answer, tries again every ten
seconds forever: a wrong SLACK_APP_TOKEN then filled the log with a failure every ten seconds
and the bot never said what to fix.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

Pause = Callable[[float], Awaitable[None]]

TOKEN_REFUSALS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",  # a bot or user token given where the app-level one goes
        "missing_scope",  # an app-level token without connections:write
    }
)
"""apps.connections.open answers that no retry will change: the token itself must change."""

FIRST_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 60.0


class TokenRefused(Exception):
    """Slack refused the app-level token; `reason` is Slack's error code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Closing(Exception):
    """The connection was closed while waiting to ask again."""


def refusal_line(reason: str) -> str:
    """What the operator reads when Slack refuses SLACK_APP_TOKEN."""
    return (
        f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {reason}): copy the app-level "
        "token (xapp-…, scope connections:write) again from your app's Basic Information page "
        "→ App-Level Tokens, and check that Socket Mode is enabled."
    )


def pauses(rng: Callable[[], float] = random.random) -> Iterator[float]:
    """Doubling pauses up to a ceiling, each shortened by up to half at random so that
    replicas cut off together do not all ask again in the same second."""
    ceiling = FIRST_PAUSE_SECONDS
    while True:
        yield ceiling * (0.5 + rng() / 2)
        ceiling = min(ceiling * 2, MAX_PAUSE_SECONDS)


async def open_socket_url(
    client: AsyncWebClient, app_token: str, pause: Pause, is_closed: Callable[[], bool]
) -> str:
    """The websocket URL; TokenRefused when the token is wrong, Closing when closed while
    waiting. Every other failure is logged in one line and asked again after a pause."""
    waits = pauses()
    while True:
        try:
            answer = await client.apps_connections_open(app_token=app_token)
            url = answer.get("url")
            if isinstance(url, str) and url:
                return url
            problem, wait = "apps.connections.open answered without a URL", next(waits)
        except SlackApiError as error:
            reason = _reason(error)
            if reason in TOKEN_REFUSALS:
                raise TokenRefused(reason) from None
            problem, wait = f"apps.connections.open: {reason}", next(waits)
            if reason == "ratelimited":
                wait = max(wait, _retry_after(error))
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            problem, wait = f"{type(error).__name__}: {error}", next(waits)
        log.warning(
            "Slack Socket Mode could not connect (%s); trying again in %.1f s",
            " ".join(problem.split()),
            wait,
        )
        await pause(wait)
        if is_closed():
            raise Closing


def _reason(error: SlackApiError) -> str:
    response = error.response
    reason = response.get("error") if response is not None else None
    if isinstance(reason, str) and reason:
        return reason
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status else "no answer"


def _retry_after(error: SlackApiError) -> float:
    headers = getattr(error.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return FIRST_PAUSE_SECONDS
    return FIRST_PAUSE_SECONDS
