"""Posting a message at most once where Slack has no idempotency key.

A retry may follow a post that went through while its answer was lost (or the process died
before recording it). Each post the bot may retry carries message metadata naming what it is,
so the retry looks for it first and updates it instead of posting it again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

SEARCH_PAGES = 5
"""Pages of 200 messages read back at most: a card is found near the time it was due."""


async def find_posted(
    client: AsyncWebClient,
    channel: str,
    since: datetime,
    event_type: str,
    field: str,
    value: object,
) -> str | None:
    """The ts of the bot's message in `channel`, since `since`, whose metadata is of
    `event_type` with `field` equal to `value`; None if there is none."""
    cursor: str | None = None
    for _ in range(SEARCH_PAGES):
        page = await client.conversations_history(
            channel=channel,
            oldest=f"{since.timestamp() - 1:.6f}",
            limit=200,
            include_all_metadata=True,
            cursor=cursor,
        )
        for found in page.get("messages") or []:
            metadata = found.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get(field) == value:
                return str(found["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            break
    return None


async def post_once(
    client: AsyncWebClient,
    channel: str,
    event_type: str,
    field: str,
    value: object,
    *,
    text: str,
    blocks: list[dict[str, Any]],
    retried_since: datetime | None,
) -> tuple[str, str]:
    """Post the message tagged `event_type` with `field` = `value`, where it is: (channel, ts).

    On a retry (`retried_since`: when it was first due), the message a lost post left is found by
    its tag and updated instead; if the channel cannot be read, it is posted: a second card beats
    no card."""
    found = None
    if retried_since is not None:
        try:
            found = await find_posted(client, channel, retried_since, event_type, field, value)
        except SlackApiError as error:
            log.warning(
                "could not look for %s %s=%s in %s: %s", event_type, field, value, channel, error
            )
    if found is not None:
        await client.chat_update(channel=channel, ts=found, text=text, blocks=blocks)
        return channel, found
    metadata = {"event_type": event_type, "event_payload": {field: value}}
    posted = await client.chat_postMessage(
        channel=channel, text=text, blocks=blocks, unfurl_links=False, metadata=metadata
    )
    return str(posted["channel"]), str(posted["ts"])
