"""Sends outbox messages to the Slack Web API (the outbox's `Sender` port for Slack),
classifying failures for the retry policy.

A message queued as a Web API call is made as it is; a case notice (from `notices.py`) is
handed to `case_delivery.py`, which resolves the card and the people when it is sent.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import OutboundMessage
from bot.core.outbox import DeliveryError
from handlers.slack.case_delivery import CaseDelivery
from handlers.slack.surge_delivery import SurgeDelivery

FILE = "loopkeeper.file"  # payload: channel, filename, title, content_base64[, comment]

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
    def __init__(
        self,
        client: AsyncWebClient,
        case_delivery: CaseDelivery | None = None,
        surge_delivery: SurgeDelivery | None = None,
    ) -> None:
        self._client = client
        self._case_delivery = case_delivery
        self._surge_delivery = surge_delivery

    async def claimed(self, messages: Sequence[OutboundMessage]) -> None:
        """Case notices read their cases for the whole batch (`case_delivery.py`)."""
        if self._case_delivery is not None:
            await self._case_delivery.claimed(messages)

    async def send(self, message: OutboundMessage) -> None:
        try:
            if message.method == FILE:
                await self._upload(message.payload)
            elif message.method.startswith("loopkeeper.surge_") and self._surge_delivery:
                await self._surge_delivery.deliver(message)
            elif self._surge_delivery and await self._surge_delivery.folded(message):
                pass  # a folded case's notice, delivered through its surge card
            elif message.method.startswith("loopkeeper.") and self._case_delivery is not None:
                await self._case_delivery.deliver(message)
            else:
                # "lane" orders messages in the outbox; it is not a Slack argument.
                arguments = {k: v for k, v in message.payload.items() if k != "lane"}
                await self._client.api_call(message.method, json=arguments)
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response else ""
            status = error.response.status_code if error.response else 0
            if status == 429:
                raise DeliveryError(
                    "rate limited", retry_after=_retry_after(error.response.headers)
                ) from error
            raise DeliveryError(
                f"slack error {code or status}", permanent=code in PERMANENT_ERRORS
            ) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise DeliveryError(f"cannot reach Slack: {error!r}") from error

    async def _upload(self, payload: Mapping[str, object]) -> None:
        await self._client.files_upload_v2(
            channel=str(payload["channel"]),
            filename=str(payload["filename"]),
            title=str(payload["title"]),
            content=base64.b64decode(str(payload["content_base64"])),
        )


def file_message(
    dedupe_key: str,
    channel: str,
    filename: str,
    title: str,
    content: bytes,
    now: datetime,
    lane: str | None = None,
) -> OutboundMessage:
    """An outbox message that uploads a file (Slack's v2 upload) to a channel."""
    payload: dict[str, object] = {
        "channel": channel,
        "filename": filename,
        "title": title,
        "content_base64": base64.b64encode(content).decode(),
    }
    if lane:
        payload["lane"] = lane
    return OutboundMessage(
        dedupe_key=dedupe_key, platform="slack", method=FILE, payload=payload, next_attempt_at=now
    )


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for name, value in headers.items():
        if name.lower() != "retry-after":
            continue
        first = value[0] if isinstance(value, list | tuple) else value
        try:
            return float(first)
        except (TypeError, ValueError):
            return None
    return None
