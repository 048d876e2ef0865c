"""Reading a flagged message again when Slack would not give it at filing time.

The flag was filed at once, bare (see handlers/slack/fetch.py); an inbox item of its own reads
the message again, with the inbox's retries and backoff, and fills in the case
(bot/core/fill_in.py). If Slack never gives it, the item ends a dead letter like any other; the
report stands, without its excerpt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.fill_in import OutputFiller
from bot.core.inbox import Inbox
from bot.core.models import InboxItem
from bot.core.ports import Clock
from handlers.slack.fetch import fetch_outputs
from handlers.slack.permalink import Permalinks

SLACK_REREAD = "slack.reread"


class StillUnread(Exception):
    """Slack still would not give the message: the inbox tries again later."""


class Reread:
    def __init__(
        self,
        inbox: Inbox,
        client: AsyncWebClient,
        permalinks: Permalinks,
        filler: OutputFiller,
        clock: Clock,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._client = client
        self._permalinks = permalinks
        self._filler = filler
        self._clock = clock
        self._wake = wake

    async def later(self, unread: Iterable[tuple[str, str]]) -> None:
        """Queue a reading of each of these messages (channel, ts), once per message."""
        queued = False
        for channel, ts in sorted(unread):
            payload = {"channel": channel, "ts": ts}
            key = f"slack:reread:{channel}:{ts}"
            queued |= await self._inbox.accept(key, SLACK_REREAD, payload, self._clock.now())
        if queued and self._wake is not None:
            self._wake()

    async def handle(self, item: InboxItem) -> None:
        """The inbox handler of SLACK_REREAD items."""
        wanted = (str(item.payload["channel"]), str(item.payload["ts"]))
        unread: set[tuple[str, str]] = set()
        outputs = await fetch_outputs(self._client, [wanted], self._permalinks, None, unread)
        if unread:
            raise StillUnread(f"Slack would not give message {wanted[0]}/{wanted[1]} yet")
        await self._filler.fill_in(outputs[wanted])
