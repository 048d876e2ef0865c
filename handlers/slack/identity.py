"""Who the bot is in Slack, learned once at start-up rather than inside a user's request.

bolt's single-workspace authorization calls `auth.test` on the first request a process gets and
keeps the answer; so does Permalinks for the workspace URL. A slow Slack then makes the first
interaction after every restart miss the 3-second window. One call before the first request
answers both.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.startup_errors import StartupError
from handlers.slack.permalink import Permalinks

log = logging.getLogger(__name__)

REFUSALS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
"""auth.test answers that no retry will change: the token itself is wrong."""


async def learn_identity(client: AsyncWebClient, app: AsyncApp, permalinks: Permalinks) -> bool:
    """One `auth.test`, given to bolt and Permalinks; False (and one log line) when Slack
    cannot be asked now, in which case bolt asks on the first request as it would anyway.
    StartupError when Slack refuses the token: a bot that can never post must not start."""
    try:
        found = await client.auth_test()
    except SlackApiError as error:
        reason = error.response.get("error") if error.response is not None else None
        if reason in REFUSALS:
            raise StartupError(
                f"Slack refused SLACK_BOT_TOKEN (auth.test: {reason}): copy the Bot User OAuth "
                "Token (xoxb-…) again from your app's OAuth & Permissions page, or reinstall "
                "the app to the workspace."
            ) from None
        log.warning("auth.test at start-up failed, the first request will ask: %s", error)
        return False
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        log.warning("auth.test at start-up failed, the first request will ask: %s", error)
        return False
    permalinks.learn(found)
    # bolt takes no auth.test answer through its API when given a token: hand it to the
    # authorization middleware it built, which otherwise makes the call itself.
    primed = False
    for middleware in getattr(app, "_async_middleware_list", []):
        if isinstance(middleware, AsyncSingleTeamAuthorization):
            middleware.auth_test_result = found
            primed = True
    if not primed:
        log.warning("bolt's authorization was not found; it will call auth.test itself")
    return True
