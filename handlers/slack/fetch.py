"""Fetching flagged messages: their text, poster, metadata and permalink.

A reaction names only a channel and a timestamp, so the message is read back from Slack.
Reactions filed together are read together: one `conversations.history` call per channel
covers every flagged message between the oldest and the newest, which matters because Slack
rate-limits that method more tightly than any other the bot uses. Whatever one window does not
return (thread replies, a window holding too many other messages) is read one by one. A
message read a moment ago (several people flag the same bad answer) is not read again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import FlaggedOutput
from handlers.slack.parse import message_output
from handlers.slack.permalink import Permalinks

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 2.0
WINDOW_LIMIT = 200
"""Messages one history call may return (Slack's advice is at most 200 per page)."""

Wanted = tuple[str, str]
"""A flagged message: (channel, ts)."""


class RecentMessages:
    """Flagged messages read in the last `keep` seconds, the newest `size` of them."""

    def __init__(self, keep: float = 300.0, size: int = 5000) -> None:
        self._keep = keep
        self._size = size
        self._read: OrderedDict[Wanted, tuple[float, FlaggedOutput]] = OrderedDict()

    def get(self, wanted: Wanted) -> FlaggedOutput | None:
        found = self._read.get(wanted)
        if found is None or time.monotonic() - found[0] > self._keep:
            return None
        return found[1]

    def put(self, wanted: Wanted, output: FlaggedOutput) -> None:
        self._read[wanted] = (time.monotonic(), output)
        self._read.move_to_end(wanted)
        while len(self._read) > self._size:
            self._read.popitem(last=False)


class Unread(Exception):
    """A flagged message Slack would not give now (rate limited, failing, slow): reading it
    again later may succeed."""


async def _fetch_one(
    client: AsyncWebClient, channel: str, ts: str, permalinks: Permalinks
) -> FlaggedOutput | None:
    """The message read from Slack; None when it could not be read (the report is filed all
    the same, attributed by channel); Unread when it may be read later."""
    # One message exactly: the window is [ts, ts], with the metadata AI apps attach.
    window = _window(ts, ts, limit=1)
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            history = await client.conversations_history(channel=channel, **window)
            message = _the_message(history, ts)
            if message is not None:
                link = await permalinks.top_level(channel, ts)
                return message_output(channel, message, permalink=link)
            # A reply in a thread is not in the channel history; ask the thread.
            replies, found = await asyncio.gather(
                client.conversations_replies(channel=channel, ts=ts, **window),
                client.chat_getPermalink(channel=channel, message_ts=ts),
            )
            message = _the_message(replies, ts)
            permalink = found.get("permalink")
            if message is None:  # deleted, or out of the bot's sight: its link is all there is
                log.warning("flagged message %s/%s was not found", channel, ts)
            return message_output(channel, message or {"ts": ts}, permalink=permalink)
    except (SlackApiError, TimeoutError, OSError) as error:
        log.warning("could not fetch flagged message %s/%s: %s", channel, ts, error)
        if _passing(error):
            raise Unread(f"{channel}/{ts}") from error
        return None


def _passing(error: Exception) -> bool:
    """A failure that passes (a rate limit, a 5xx, no answer): reading later may succeed."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        return status == 429 or status >= 500
    return True


async def fetch_outputs(
    client: AsyncWebClient,
    wanted: Sequence[Wanted],
    permalinks: Permalinks,
    recent: RecentMessages | None = None,
    unread: set[Wanted] | None = None,
) -> dict[Wanted, FlaggedOutput]:
    """Several flagged messages, each distinct one read once (see the module's docstring).
    Those Slack would not give now are returned bare (channel and ts) and added to `unread`,
    to be read again later."""
    found: dict[Wanted, FlaggedOutput] = {}
    by_channel: dict[str, set[str]] = {}
    for channel, ts in wanted:
        known = recent.get((channel, ts)) if recent is not None else None
        if known is not None:
            found[(channel, ts)] = known
        else:
            by_channel.setdefault(channel, set()).add(ts)
    read: dict[Wanted, FlaggedOutput] = {}
    for channel, stamps in by_channel.items():
        if len(stamps) > 1:
            read.update(await _fetch_window(client, channel, stamps, permalinks))
    missing = [w for w in dict.fromkeys(wanted) if w not in found and w not in read]
    singles = await asyncio.gather(
        *(_fetch_one(client, channel, ts, permalinks) for channel, ts in missing),
        return_exceptions=True,
    )
    for (channel, ts), output in zip(missing, singles, strict=True):
        if isinstance(output, Unread):
            if unread is not None:
                unread.add((channel, ts))
        elif isinstance(output, BaseException):
            raise output
        if isinstance(output, FlaggedOutput):
            read[(channel, ts)] = output
        else:  # filed all the same, attributed by channel
            found[(channel, ts)] = message_output(channel, {"ts": ts})
    if recent is not None:
        for where, output in read.items():
            recent.put(where, output)
    return found | read


async def _fetch_window(
    client: AsyncWebClient, channel: str, stamps: set[str], permalinks: Permalinks
) -> dict[Wanted, FlaggedOutput]:
    """The messages of `stamps` found in one history call over their span; {} on failure."""
    ordered = sorted(stamps, key=float)
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            history = await client.conversations_history(
                channel=channel, **_window(ordered[0], ordered[-1], limit=WINDOW_LIMIT)
            )
    except (SlackApiError, TimeoutError, OSError) as error:
        log.info(
            "could not read %s flagged messages of %s at once: %s", len(stamps), channel, error
        )
        return {}
    messages = {m.get("ts"): m for m in history.get("messages") or []}
    found: dict[Wanted, FlaggedOutput] = {}
    for ts in ordered:
        message = messages.get(ts)
        if message is not None:
            link = await permalinks.top_level(channel, ts)
            found[(channel, ts)] = message_output(channel, message, permalink=link)
    return found


def _window(oldest: str, latest: str, *, limit: int) -> dict[str, Any]:
    return {
        "oldest": oldest,
        "latest": latest,
        "inclusive": True,
        "limit": limit,
        "include_all_metadata": True,
    }


def _the_message(response: Any, ts: str) -> dict[str, Any] | None:
    return next((m for m in response.get("messages") or [] if m.get("ts") == ts), None)
