"""Delivers outbox messages to the Slack Web API, classifying failures for the retry policy."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import OutboundMessage
from bot.outbox import DeliveryError

# Errors where sending the same request again cannot succeed.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "user_not_in_channel",
        "is_archived",
        "user_not_found",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "cannot_dm_bot",
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
    }
)


class SlackSender:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def send(self, message: OutboundMessage) -> None:
        try:
            await self._client.api_call(message.method, json=dict(message.payload))
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response else ""
            status = error.response.status_code if error.response else 0
            if status == 429:
                retry_after = error.response.headers.get(
                    "retry-after"
                ) or error.response.headers.get("Retry-After")
                raise DeliveryError(
                    "rate limited", retry_after=float(retry_after) if retry_after else None
                ) from error
            raise DeliveryError(
                f"slack error {code or status}", permanent=code in PERMANENT_ERRORS
            ) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise DeliveryError(f"cannot reach Slack: {error!r}") from error
