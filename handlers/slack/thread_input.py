"""The prompt of a flagged reply: the parent of the thread the AI answered in.

An AI assistant in Slack usually answers in a thread under the question it was asked, so
that question (the thread's parent) is the input of the output flagged. It is read once per
thread, with `conversations.replies` and `limit=1`, by the inbox worker after the flag's ack.
It is a nicety: a rate limit, an error or a slow answer leaves the report without an input
and never holds the flag up. After a 429, no parent is read until Slack's `Retry-After` has
passed (that method is Tier 1 for some apps), so a burst of flags cannot make it worse.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import FlaggedOutput
from bot.core.ports import Clock
from handlers.slack.parse import message_text

log = logging.getLogger(__name__)

PARENT_TIMEOUT = 1.0
"""Seconds a parent read may take; the flag is filed without it after that."""

BATCH_BUDGET = 3.0
"""Seconds all the parent reads of one batch of flags may take together: a backlog of flags
on many threads of a slow Slack is filed without the rest, not held up one second each."""

DEFAULT_BACKOFF = 60.0
"""Seconds to leave `conversations.replies` alone after a 429 that names no Retry-After."""

MAX_BACKOFF = 3600.0
"""Seconds at most, whatever a Retry-After says: the parent read only ever pauses."""

K = TypeVar("K")


class ThreadInputs:
    """Thread parents read lately (the input of every flagged reply in that thread)."""

    def __init__(self, clock: Clock, size: int = 5000, keep: float = 300.0) -> None:
        self._clock = clock
        self._size = size
        self._keep = timedelta(seconds=keep)
        self._parents: OrderedDict[tuple[str, str], tuple[datetime, str | None]] = OrderedDict()
        self._quiet_until: datetime | None = None

    async def fill(
        self, client: AsyncWebClient, outputs: Mapping[K, FlaggedOutput]
    ) -> dict[K, FlaggedOutput]:
        """`outputs`, each reply without an input given its thread's parent as input."""
        # A parent flagged in the same batch was read already: no call for it.
        read = {(o.channel_id, o.message_ts): o for o in outputs.values() if o.channel_id}
        deadline = asyncio.get_running_loop().time() + BATCH_BUDGET
        filled: dict[K, FlaggedOutput] = {}
        for where, output in outputs.items():
            if output.input is None and output.thread_ts and output.channel_id:
                known = read.get((output.channel_id, output.thread_ts))
                parent = (
                    _input_from(known, output)
                    if known is not None
                    else await self._parent(client, output, deadline)
                )
                if parent is not None:
                    output = output.model_copy(update={"input": parent})
            filled[where] = output
        return filled

    async def _parent(
        self, client: AsyncWebClient, output: FlaggedOutput, deadline: float
    ) -> str | None:
        assert output.channel_id is not None and output.thread_ts is not None
        thread = (output.channel_id, output.thread_ts)
        known = self._parents.get(thread)
        now = self._clock.now()
        if known is not None and now - known[0] <= self._keep:
            return known[1]
        if self._quiet_until is not None and now < self._quiet_until:
            return None  # rate limited a moment ago: not read, and not remembered as absent
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return None  # this batch spent its budget: not read, and not remembered as absent
        try:
            async with asyncio.timeout(min(PARENT_TIMEOUT, left)):
                answer = await client.conversations_replies(
                    channel=thread[0], ts=thread[1], limit=1, include_all_metadata=True
                )
        except SlackApiError as error:
            self._back_off(error)
            log.info("thread parent %s/%s not read: %s", *thread, _error_name(error))
            return None
        except (TimeoutError, OSError) as error:
            log.info("thread parent %s/%s not read: %r", *thread, error)
            return None
        parent = _parent_text(answer, output)
        self._remember(thread, parent)
        return parent

    def _back_off(self, error: SlackApiError) -> None:
        response = error.response
        if getattr(response, "status_code", 0) != 429:
            return
        headers = getattr(response, "headers", None) or {}
        wait = _retry_after(headers)
        self._quiet_until = self._clock.now() + timedelta(seconds=wait)

    def _remember(self, thread: tuple[str, str], parent: str | None) -> None:
        self._parents[thread] = (self._clock.now(), parent)
        self._parents.move_to_end(thread)
        while len(self._parents) > self._size:
            self._parents.popitem(last=False)


def _parent_text(answer: Any, output: FlaggedOutput) -> str | None:
    """The parent's words; None when it is missing or was posted by the same AI (then it is
    not the question but an earlier answer)."""
    messages = answer.get("messages") if hasattr(answer, "get") else None
    parent = next(
        (m for m in messages or [] if isinstance(m, dict) and m.get("ts") == output.thread_ts),
        None,
    )
    if parent is None:
        return None
    if output.author_bot_id and parent.get("bot_id") == output.author_bot_id:
        return None
    return message_text(parent)


def _input_from(parent: FlaggedOutput, output: FlaggedOutput) -> str | None:
    if output.author_bot_id and parent.author_bot_id == output.author_bot_id:
        return None
    return parent.text


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() != "retry-after":
            continue
        first = value[0] if isinstance(value, list) and value else value
        try:
            return min(max(float(first), 0.0), MAX_BACKOFF)
        except (TypeError, ValueError):
            break
    return DEFAULT_BACKOFF


def _error_name(error: SlackApiError) -> str:
    response = error.response
    status = getattr(response, "status_code", "?")
    found = response.get("error") if hasattr(response, "get") else None
    return f"HTTP {status} {found or ''}".strip()
